import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { Transport, TransportEvents, WireFormat } from '../index.js';
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

const { OPEN } = WebSocket;

/** Pongs handed to the socket and not yet written past which a pinging peer is terminated (ws's `maxPendingAutoPongs`). */
export const MAX_PENDING_PONGS = 60;
const BINARY_REASON = 'binary messages are not part of the JSON protocol';

/** Pongs a connection has handed to its socket and not yet seen written. */
class PongBudget {
  pending = 0;
  readonly written = (): void => { this.pending--; };
}

/**
 * The connection object of livehub's own WebSocketServer (its `WebSocket` option), with
 * `autoPong: false`. It holds its session in a field of its own, where ws's emitter would have
 * needed five listeners (a dictionary of them on every idle connection) and a symbol property added
 * after construction, and hands ws's events straight to that session; listeners that others add
 * still get every event. livehub answers the peer's pings itself (`answer`), so ws needs no
 * per-connection auto-pong closure either.
 */
export class HubWebSocket extends WebSocket {
  /** The session this connection reports to, once bound. */
  events: TransportEvents | undefined = undefined;
  /** Made at the peer's first ping: browsers never send one, so most connections never pay for it. */
  private pongs: PongBudget | undefined = undefined;

  override emit(event: string | symbol, a?: any, b?: any): boolean {
    const events = this.events;
    if (events === undefined) return Reflect.apply(super.emit, this, arguments) as boolean;
    switch (event) {
      case 'message':
        if (b === true) this.close(1003, BINARY_REASON);
        else events.receive((a as Buffer).toString('utf8'));
        releaseChunks(this);
        if (this.listenerCount(event) > 0) super.emit(event, a, b);
        return true;
      case 'ping':
        // A ping the inbound rate limit refuses goes unanswered.
        if (events.pinged()) this.answer(a as Buffer);
        releaseChunks(this);
        if (this.listenerCount(event) > 0) super.emit(event, a);
        return true;
      case 'pong':
        events.alive();
        releaseChunks(this);
        if (this.listenerCount(event) > 0) super.emit(event, a);
        return true;
      case 'error':
        events.failed(a as Error);
        if (this.listenerCount(event) > 0) super.emit(event, a); // never unheard: EventEmitter would throw
        return true;
      case 'close':
        events.closed(a as number, (b as Buffer).toString());
        if (this.listenerCount(event) > 0) super.emit(event, a, b);
        return true;
      default:
        return Reflect.apply(super.emit, this, arguments) as boolean;
    }
  }

  /**
   * Answers a ping with a pong carrying its data, as ws's auto-pong did: while open, and with at most
   * `MAX_PENDING_PONGS` pongs not yet written, past which the peer (pinging without reading, or a
   * burst of pings in one read) is terminated.
   */
  private answer(data: Buffer): void {
    if (this.readyState !== OPEN) return;
    const pongs = (this.pongs ??= new PongBudget());
    if (pongs.pending >= MAX_PENDING_PONGS) {
      this.terminate();
      return;
    }
    pongs.pending++;
    this.pong(data, false, pongs.written);
  }
}

/**
 * ws's receiver queues socket reads in an array that keeps its grown backing store (17 slots) for
 * the connection's life; once a frame has emptied it, an empty array takes its place. Only the
 * receiver's own methods touch `_buffers`, always through the field, so the swap is invisible to the
 * parse (which is what ws itself does with `_fragments` after each message).
 */
function releaseChunks(ws: WebSocket): void {
  const receiver = (ws as unknown as { _receiver?: { _buffers?: unknown } | null })._receiver;
  const buffers = receiver?._buffers;
  if (Array.isArray(buffers) && buffers.length === 0) receiver!._buffers = []; // a ws without the field: nothing to do
}

/*
 * A connection from an app's own WebSocketServer (`hub.addConnection`) gets listeners: shared
 * functions that find their session through the socket, not closures (five closures and their
 * context would cost each connection about 300 bytes). ws answers its pings.
 */
const kEvents = Symbol('livehub.session');
type Owned = WebSocket & { [kEvents]: TransportEvents };
const eventsOf = (ws: WebSocket): TransportEvents => (ws as Owned)[kEvents];
function onWsMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  if (isBinary) {
    this.close(1003, BINARY_REASON);
    return;
  }
  eventsOf(this).receive(data.toString('utf8'));
}
function onWsPing(this: WebSocket): void { eventsOf(this).pinged(); }
function onWsPong(this: WebSocket): void { eventsOf(this).alive(); }
function onWsError(this: WebSocket, error: Error): void { eventsOf(this).failed(error); }
function onWsClose(this: WebSocket, code: number, reason: Buffer): void { eventsOf(this).closed(code, reason.toString()); }

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
    if (ws instanceof HubWebSocket) {
      ws.events = events;
      return;
    }
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
