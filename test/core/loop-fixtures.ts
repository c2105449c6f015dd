import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { afterEach, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { Hub, type HubOptions } from '../../pkg/index.js';
import { MemoryEngine, type Engine, type EngineHandlers, type HistoryResult, type StreamPosition } from '../../pkg/engine/index.js';
import type { Identity } from '../../pkg/core/auth.js';
import type { RequestInfo } from '../../pkg/core/policy.js';
import type { Transport, TransportEvents, TransportHost } from '../../pkg/core/transport.js';
import { recordingLogger, type LogLine } from '../helpers.js';
import { decodeFrames } from '../frames.js';

/**
 * The memory engine, recording the hub's calls about channels (`subscribe room`, `unsubscribe room`,
 * `history room`, in order), holding history reads until the test lets them through (each then reads
 * the stream as it stands at that moment, or fails), holding engine subscriptions until the test
 * settles them, and handing the test the hub's handlers so it can deliver and reset as an engine would.
 */
export class ScriptedEngine implements Engine {
  readonly calls: string[] = [];
  handlers!: EngineHandlers;
  holdHistory = false;
  /** While set, `subscribe` returns a promise that `settleSubscribe` settles. */
  holdSubscribe = false;
  /** While set, `subscribe` throws it. */
  subscribeError: Error | null = null;
  /** While set, `unsubscribe` throws it. */
  unsubscribeError: Error | null = null;
  private held: Array<(failure?: Error) => void> = [];
  private pendingSubscribes: Array<{ channel: string; settle: (failure?: Error) => void }> = [];
  private readonly memory = new MemoryEngine();

  start(handlers: EngineHandlers): void {
    this.handlers = handlers;
    this.memory.start(handlers);
  }
  publish(...args: Parameters<Engine['publish']>) { return this.memory.publish(...args); }
  subscribe(channel: string): void | Promise<void> {
    this.calls.push(`subscribe ${channel}`);
    if (this.subscribeError) throw this.subscribeError;
    if (!this.holdSubscribe) return;
    return new Promise((resolve, reject) => {
      this.pendingSubscribes.push({ channel, settle: (failure) => (failure ? reject(failure) : resolve()) });
    });
  }
  unsubscribe(channel: string): void {
    this.calls.push(`unsubscribe ${channel}`);
    if (this.unsubscribeError) throw this.unsubscribeError;
  }
  history(channel: string, since: StreamPosition | null): HistoryResult | Promise<HistoryResult> {
    this.calls.push(`history ${channel}`);
    if (!this.holdHistory) return this.memory.history(channel, since);
    return new Promise((resolve, reject) => this.held.push((failure) => (failure ? reject(failure) : resolve(this.memory.history(channel, since)))));
  }
  addPresence(...args: Parameters<Engine['addPresence']>) { return this.memory.addPresence(...args); }
  removePresence(...args: Parameters<Engine['removePresence']>) { return this.memory.removePresence(...args); }
  presence(channel: string) { return this.memory.presence(channel); }
  sweepPresence(channel: string) { return this.memory.sweepPresence(channel); }
  send(node: string | null, message: string) { return this.memory.send(node, message); }
  close(): void { this.memory.close(); }

  /** The channels the hub subscribed, in order. */
  get subscribed(): string[] { return this.named('subscribe'); }
  /** The channels the hub unsubscribed, in order. */
  get unsubscribed(): string[] { return this.named('unsubscribe'); }
  /** History reads waiting for `release`. */
  get waiting(): number { return this.held.length; }
  /** Lets every held history read through, reading the streams now; or fails them all with `failure`. */
  release(failure?: Error): void { for (const go of this.held.splice(0)) go(failure); }
  /** Lets the oldest held history read through, or fails it with `failure`. */
  releaseFirst(failure?: Error): void { this.held.shift()!(failure); }
  /** Settles the oldest engine subscription still pending: set up, or failed with `failure`. */
  settleSubscribe(failure?: Error): string {
    const next = this.pendingSubscribes.shift();
    if (!next) throw new Error('no engine subscription is pending');
    next.settle(failure);
    return next.channel;
  }

  private named(call: string): string[] {
    return this.calls.filter((c) => c.startsWith(`${call} `)).map((c) => c.slice(call.length + 1));
  }
}

/** A socket that records what the hub writes to it. */
class FakeSocket extends EventEmitter {
  writableLength = 0;
  written: Buffer[] = [];
  cork() {}
  uncork() {}
  write(chunk: Buffer) {
    this.written.push(chunk);
    return true;
  }
}

let pings = 0;

/** The part of a `ws` WebSocket the hub uses, recording what the hub writes and how it closes. */
export class FakeWs extends EventEmitter {
  readyState = 1;
  _socket = new FakeSocket();
  closedWith: { code: number; reason: string } | null = null;
  constructor(public protocol = 'livehub.v1') { super(); }
  close(code: number, reason: string) {
    this.closedWith = { code, reason };
    this.readyState = 2;
    setImmediate(() => { this.readyState = 3; this.emit('close', code, Buffer.from(reason)); });
  }
  terminate() { this.readyState = 3; this.emit('close', 1006, Buffer.alloc(0)); }
  ping() {}
  /** The client closes the connection with `code` and `reason` (the closing handshake done). */
  leave(code: number, reason: string) { this.readyState = 3; this.emit('close', code, Buffer.from(reason)); }
  say(message: unknown) { this.emit('message', Buffer.from(JSON.stringify(message)), false); }
  /** Every frame the hub wrote, parsed. */
  all(): any[] {
    return decodeFrames(Buffer.concat(this._socket.written)).map((text) => JSON.parse(text));
  }
  /** What the hub wrote, but its first frame (`connected`) and the pongs of `sync`. */
  received(): any[] {
    return this.all().filter((m) => m.type !== 'connected' && !(m.type === 'pong' && String(m.id).startsWith('sync-')));
  }
  /** The offsets of the hub's messages on `channel` (the frames with data), in order. */
  offsets(channel: string): number[] {
    return this.received().filter((m) => m.channel === channel && 'data' in m).map((m) => m.offset);
  }
  /**
   * A sentinel: a ping, its pong awaited, then another. The hub answers in order, and a subscribe is
   * answered in the loop's turn after the one that took it in: whatever the hub had to write to this
   * connection for what it read before the first ping has been written once the second pong is.
   */
  async sync(): Promise<void> {
    for (let pong = 0; pong < 2; pong++) {
      const id = `sync-${++pings}`;
      this.say({ type: 'ping', id });
      await vi.waitFor(() => { if (!this.all().some((m) => m.type === 'pong' && m.id === id)) throw new Error(`no pong ${id} yet`); }, { timeout: 5000, interval: 1 });
    }
  }
}

/**
 * A transport of the app's own (livehub/transport) with a wire format of its own: each message
 * batch is encoded as its payloads, one a line. Records the batches its format encoded, what the
 * session wrote, and can end the connection without a close code (as an SSE stream does).
 */
export class LineTransport {
  static encoded: string[][] = [];
  static readonly format = {
    name: 'lines',
    encodeMessages(_channel: string, offsets: readonly number[], payloads: readonly string[]): string {
      LineTransport.encoded.push(offsets.map(String));
      return payloads.join('\n');
    },
    encodeReply: (json: string) => Buffer.from(json),
  };
  readonly name = 'lines';
  readonly format = LineTransport.format;
  readonly writable = true;
  readonly writableLength = 0;
  written: string[] = [];
  events!: TransportEvents;
  /** The replies the hub framed through `replyFrames`, as it handed them. */
  replies: Array<{ reply: object; json: string }> = [];
  frames(shared: string): Buffer { return Buffer.from(`${shared}\n`); }
  replyFrames(reply: object, json: string): Buffer {
    this.replies.push({ reply, json });
    return Buffer.from(`${json}\n`);
  }
  write(chunks: readonly Buffer[]): void { for (const chunk of chunks) this.written.push(...String(chunk).split('\n').filter(Boolean)); }
  onceDrain(): void {}
  offDrain(): void {}
  ping(): void {}
  close(): void { setImmediate(() => this.events.closed()); }
  terminate(): void { this.events.closed(); }
  /** The client sends `message`. */
  say(message: unknown): void { this.events.receive(JSON.stringify(message)); }
  /** The hub messages written, as offsets of `channel`. */
  offsets(channel: string): number[] {
    return this.written.map((line) => JSON.parse(line)).filter((m) => m.channel === channel && 'data' in m).map((m) => m.offset);
  }
}

/** Adds the `lines` transport to `hub`; `open()` opens a connection over it. */
export function lineTransport(hub: Hub) {
  let host!: TransportHost;
  hub.addTransport({ name: 'lines', start: (h) => { host = h; }, stop: () => {} });
  return {
    open(): LineTransport {
      const transport = new LineTransport();
      transport.events = host.open(transport as unknown as Transport, { headers: {}, url: '/lines' } as unknown as RequestInfo, null);
      return transport;
    },
  };
}

const hubs: Hub[] = [];
afterEach(async () => { await Promise.all(hubs.splice(0).map((h) => h.close())); });

/** One turn of the event loop: the hub's loop runs a turn per `setImmediate`. */
export const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A hub on a scripted engine, its connections fake sockets (closed after the test), its log lines
 * recorded. `connect(identity?, protocol?)` adds a connection, registered on the next turn.
 */
export function fakeHub(options: HubOptions = {}) {
  const engine = new ScriptedEngine();
  const { logger, lines } = recordingLogger();
  const hub = new Hub({ logger, ...options, engine });
  hubs.push(hub);
  const connect = (identity: Identity | null = null, protocol?: string) => {
    const ws = new FakeWs(protocol);
    hub.addConnection(ws as unknown as WebSocket, { headers: {}, url: '/ws', socket: { remoteAddress: '10.0.0.9' } } as unknown as IncomingMessage, identity);
    return ws;
  };
  /** Subscribes `ws` to `channel` and waits for the answer. */
  const subscribe = async (ws: FakeWs, channel: string, extra: object = {}) => {
    const answers = () => ws.received().filter((m) => m.type === 'subscribed' && m.channel === channel).length;
    const before = answers();
    ws.say({ type: 'subscribe', channel, ...extra });
    await vi.waitFor(() => { if (answers() === before) throw new Error(`not subscribed to ${channel}`); }, { timeout: 5000, interval: 1 });
  };
  return { hub, engine, connect, subscribe, logs: lines as LogLine[] };
}

/** History that keeps a channel's last 100 publications for a minute. */
export const keep = { size: 100, ttl: 60_000 };
