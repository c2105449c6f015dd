import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { Transport, TransportEvents, WireFormat } from '../transport.js';
import { jsCodec, type FrameCodec } from './codec.js';

/**
 * The WebSocket wire format: each message and reply is one unmasked text frame, and a turn's
 * messages of a channel are laid into one buffer (by the frame codec, JS or WASM) that every
 * WebSocket session of the hub shares.
 */
export function webSocketFormat(codec: FrameCodec = jsCodec): WireFormat<Buffer> {
  return {
    name: 'websocket',
    encodeMessages: (_channel, _offsets, payloads) => codec.encodeBatch(payloads),
    encodeReply: (json) => codec.encodeBatch([json]),
  };
}

/*
 * The socket's listeners are shared functions that find their session through the socket, not
 * closures: five closures and their context would cost each connection about 300 bytes.
 */
const kEvents = Symbol('livehub.session');
type Owned = WebSocket & { [kEvents]: TransportEvents };
const eventsOf = (ws: WebSocket): TransportEvents => (ws as Owned)[kEvents];
function onWsMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  if (isBinary) {
    this.close(1003, 'binary messages are not part of the JSON protocol');
    return;
  }
  eventsOf(this).receive(data.toString('utf8'));
}
function onWsPing(this: WebSocket): void { eventsOf(this).pinged(); }
function onWsPong(this: WebSocket): void { eventsOf(this).alive(); }
function onWsError(this: WebSocket, error: Error): void { eventsOf(this).failed(error); }
function onWsClose(this: WebSocket, code: number, reason: Buffer): void { eventsOf(this).closed(code, reason.toString()); }

const { OPEN } = WebSocket;

/**
 * One WebSocket connection as a transport. Frames are written to the raw socket as whole,
 * pre-encoded WebSocket frames; ws's own sender writes only control frames (pings, pongs, close),
 * whole, so writes never interleave.
 */
export class WebSocketTransport implements Transport<Buffer> {
  readonly name = 'websocket';
  private readonly socket: Socket;

  constructor(readonly ws: WebSocket, readonly format: WireFormat<Buffer>) {
    // ws keeps the socket private; livehub writes pre-encoded frames to it directly.
    this.socket = (ws as unknown as { _socket: Socket })._socket;
  }

  /** Starts handing the connection's events to its session. */
  bind(events: TransportEvents): void {
    const ws = this.ws;
    (ws as Owned)[kEvents] = events;
    ws.on('message', onWsMessage);
    ws.on('ping', onWsPing);
    ws.on('pong', onWsPong);
    ws.on('error', onWsError);
    ws.on('close', onWsClose);
  }

  get writable(): boolean {
    return this.ws.readyState === OPEN;
  }

  get writableLength(): number {
    return this.socket?.writableLength ?? 0;
  }

  frames(shared: Buffer): Buffer {
    return shared;
  }

  write(chunks: readonly Buffer[]): void {
    // One buffer, one write: copying a few small frames together costs less than the stream's
    // cork/writev path, which allocates per chunk and per write.
    this.socket.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks as Buffer[]));
  }

  onceDrain(listener: () => void): void {
    this.socket.once('drain', listener);
  }

  offDrain(listener: () => void): void {
    this.socket?.removeListener('drain', listener);
  }

  ping(): void {
    if (this.ws.readyState === OPEN) this.ws.ping();
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }
}
