import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { clampCloseReason, CloseCode, ErrorCode, withId, type ClientCommand, type PresenceStatus, type ServerReply } from '../protocol.js';
import type { Identity } from './auth.js';
import { parseCommand } from './inbound.js';
import { scanJson, takeToken, type Bucket } from './limits.js';
import type { ResolvedHubOptions } from './options.js';
import { decide, type RequestInfo } from './policy.js';
import type { Reporter } from './report.js';
import { ClientStreams } from './streams.js';

/** Running totals a hub keeps for monitoring (`hub.metrics()`). */
export interface HubCounters {
  /** Socket writes (a corked batch of frames counts once). */
  writes: number;
  /** WebSocket frames (messages and replies) handed to sockets. */
  frames: number;
  /** Bytes handed to sockets. */
  bytes: number;
  /** Clients closed as slow consumers (4001). */
  evictions: number;
}

/** What a client needs of its hub. Only the hub's loop mutates hub state; these calls enqueue. */
export interface ClientHost {
  readonly options: ResolvedHubOptions;
  readonly counters: HubCounters;
  /** Where failures are logged. */
  readonly reporter: Reporter;
  /** Queues a command from this client for the hub's loop. */
  command(client: Client, command: ClientCommand): void;
  /** Queues a reply to this client, in order with its other frames. */
  reply(client: Client, reply: ServerReply): void;
  /** The socket closed: queues the client's removal. */
  unregister(client: Client): void;
  /** Queues a close, after the replies already queued for the client (which it flushes first). */
  closeClient(client: Client, code: number, reason: string): void;
}

type Lifecycle = 'open' | 'closing' | 'closed';
const { OPEN } = WebSocket;

/*
 * The socket's listeners are shared functions that find their client through the socket, not
 * closures: five closures and their context would cost each connection about 300 bytes.
 */
const kClient = Symbol('livehub.client');
type Owned = WebSocket & { [kClient]: Client };
const clientOf = (ws: WebSocket): Client => (ws as Owned)[kClient];
function onWsMessage(this: WebSocket, data: unknown, isBinary: boolean): void { clientOf(this).onMessage(data as Buffer, isBinary); }
function onWsPing(this: WebSocket): void { clientOf(this).onPing(); }
function onWsPong(this: WebSocket): void { clientOf(this).lastSeen = Date.now(); }
function onWsError(this: WebSocket, error: Error): void { clientOf(this).onError(error); }
function onWsClose(this: WebSocket): void { clientOf(this).onClose(); }

/**
 * One connection: one reader (the `message` handler, which parses and hands commands to the hub) and
 * one writer (`flush`, which writes queued frames to the socket). Frames are written to the raw socket
 * as whole, pre-encoded WebSocket frames: a turn's frames for this client go out in one corked write.
 */
export class Client implements Bucket {
  /** Channels this client is in. Mutated only by the hub's loop. */
  readonly channels = new Set<string>();
  /** When the peer last showed it is alive (a pong or any message), in ms since the epoch. */
  lastSeen = Date.now();
  /** When the hub last pinged the peer. */
  lastPing = Date.now();
  /** Set by the hub's loop while the client is dirty in the current turn. */
  dirty = false;
  /** Where the client stands in its channels' streams (recovery, floors). Owned by the hub's loop. */
  readonly streams = new ClientStreams();
  /** The presence channels the client is in, with its status there (null: none). Owned by the hub's loop. */
  presence: Map<string, PresenceStatus> | null = null;
  state: Lifecycle = 'open';

  private readonly socket: Socket;
  private readonly queue: Buffer[] = [];
  private readonly counts: number[] = [];
  private queuedMessages = 0;
  private queuedBytes = 0;
  private blocked = false;
  private writeTimer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  private afterDrain: (() => void) | null = null;
  /** The `drain` listener, made the first time the socket pushes back. */
  private drainListener: (() => void) | null = null;
  /** The inbound rate limit's token bucket (see `takeToken`). */
  tokens: number;
  refilledAt = Date.now();
  /** Inbound messages dropped by the rate limit since `dropWindow` began (windows of one second). */
  private dropped = 0;
  private dropWindow = 0;
  private expiryTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    readonly request: RequestInfo,
    private readonly host: ClientHost,
    /** Who this connection belongs to (from `authenticate`), or null. */
    readonly identity: Identity | null = null,
    /**
     * Whether the peer speaks livehub's full protocol (it negotiated the `livehub.v1` subprotocol).
     * Otherwise it is a client of the Go original, which gets only real messages on frames with a
     * `channel` key.
     */
    readonly fullProtocol = true,
  ) {
    // ws keeps the socket private; livehub writes pre-encoded frames to it directly. ws's own sender
    // writes only control frames (pings, pongs, close), whole, so writes never interleave.
    this.socket = (ws as unknown as { _socket: Socket })._socket;
    this.tokens = host.options.rateLimitBurst;
    (ws as Owned)[kClient] = this;
    ws.on('message', onWsMessage);
    ws.on('ping', onWsPing);
    ws.on('pong', onWsPong);
    ws.on('error', onWsError);
    ws.on('close', onWsClose);
    if (identity?.expiresAt !== undefined) this.armExpiry(identity.expiresAt);
  }

  /** Bytes waiting for this client: livehub's queue plus the socket's own buffer. */
  get bufferedBytes(): number {
    return this.queuedBytes + (this.socket?.writableLength ?? 0);
  }

  /** Queues frames (`messages` hub messages encoded in `frames`). Called by the hub's loop. */
  enqueue(frames: Buffer, messages: number): void {
    if (this.state !== 'open') return;
    this.queue.push(frames);
    this.counts.push(messages);
    this.queuedMessages += messages;
    this.queuedBytes += frames.length;
  }

  /**
   * Writes what the socket will take without passing the high-water mark, in one corked write.
   * What is left waits for `drain`; if that is more than the client's buffer allows, or the socket
   * does not drain within `writeWait`, the client is evicted as a slow consumer.
   */
  flush(): void {
    if (this.state !== 'open' || this.ws.readyState !== OPEN) return;
    if (this.blocked) {
      this.evictIfOverflowing();
      return;
    }
    if (this.queue.length === 0) return this.runAfterDrain();
    const { highWaterMark } = this.host.options;
    const socket = this.socket;
    const counters = this.host.counters;
    let written = 0;
    socket.cork();
    while (written < this.queue.length && socket.writableLength < highWaterMark) {
      const frames = this.queue[written]!;
      socket.write(frames);
      this.queuedMessages -= this.counts[written]!;
      this.queuedBytes -= frames.length;
      counters.frames += this.counts[written]!;
      counters.bytes += frames.length;
      written++;
    }
    socket.uncork();
    if (written > 0) counters.writes++;
    this.queue.splice(0, written);
    this.counts.splice(0, written);
    if (this.queue.length > 0 || socket.writableLength >= highWaterMark) this.block();
    else this.runAfterDrain();
  }

  /** Pings the peer (a WebSocket ping frame; `ws` answers pongs by itself on the other side). */
  ping(): void {
    if (this.ws.readyState === OPEN) this.ws.ping();
  }

  /**
   * Closes once every queued frame is written (or after `writeWait`, terminating). Resolves when the
   * socket is closed. Used by `hub.close()`.
   */
  shutdown(code: number, reason: string): Promise<void> {
    if (this.state === 'closed' || this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      if (this.state !== 'open') return;
      if (this.queue.length === 0 && !this.blocked) return this.close(code, reason);
      this.afterDrain = () => this.close(code, reason);
      setTimeout(() => this.terminate(), this.host.options.writeWait).unref();
    });
  }

  /**
   * Closes with a code and reason; the socket is terminated if the close handshake takes too long.
   * With `flush`, frames already queued (an error frame explaining the close) are written first;
   * a slow consumer's backlog is dropped instead.
   */
  close(code: number, reason: string, flush = false): void {
    if (this.state !== 'open') return;
    if (flush) this.flush();
    this.state = 'closing';
    this.dropQueue();
    this.host.unregister(this); // no more fan-out to a closing client
    try {
      this.ws.close(code, clampCloseReason(reason));
    } catch (error) {
      // Never leave a socket open (or its slot held) because a close threw.
      this.host.reporter.error(error, 'close_failed', `livehub: closing ${this.id} with ${code} threw (${(error as Error).message}); terminated instead`);
      this.ws.terminate();
      return;
    }
    const timer = setTimeout(() => this.terminate(), this.host.options.writeWait);
    timer.unref();
    this.ws.once('close', () => clearTimeout(timer));
  }

  /** Destroys the socket at once (a dead or hopeless peer). */
  terminate(): void {
    this.dropQueue();
    this.ws.terminate();
  }

  /** Evicts the client (close 4001) if what waits for it exceeds `sendBuffer` or `maxBufferedBytes`. */
  private evictIfOverflowing(): boolean {
    const { sendBuffer, maxBufferedBytes } = this.host.options;
    if (this.queuedMessages <= sendBuffer && this.bufferedBytes <= maxBufferedBytes) return false;
    this.evict(`${this.queuedMessages} messages and ${this.bufferedBytes} bytes were waiting (sendBuffer ${sendBuffer}, maxBufferedBytes ${maxBufferedBytes})`, 'slow consumer');
    return true;
  }

  /** Closes a slow consumer with 4001, and says so in the log. */
  private evict(why: string, reason: string): void {
    this.host.counters.evictions++;
    this.host.reporter.report('warn', 'slow_consumer',
      `livehub: evicted ${this.id}${this.identity ? ` (user ${this.identity.userId})` : ''} from ${this.request.socket?.remoteAddress ?? 'unknown'} as a slow consumer (4001): ${why}; ` +
      'the client reconnects and recovers from history; raise sendBuffer/maxBufferedBytes/writeWait if readers this slow are expected');
    this.close(CloseCode.SlowConsumer, reason);
  }

  private block(): void {
    if (this.evictIfOverflowing() || this.blocked) return;
    const { writeWait } = this.host.options;
    this.blocked = true;
    this.socket.once('drain', (this.drainListener ??= () => this.onDrain()));
    this.writeTimer = setTimeout(() => {
      this.evict(`its socket did not drain for writeWait (${writeWait} ms)`, 'write timeout');
    }, writeWait);
    this.writeTimer.unref();
  }

  private runAfterDrain(): void {
    const then = this.afterDrain;
    this.afterDrain = null;
    then?.();
  }

  private onDrain(): void {
    this.blocked = false;
    if (this.writeTimer) clearTimeout(this.writeTimer);
    this.writeTimer = null;
    this.flush();
  }

  private dropQueue(): void {
    this.queue.length = 0;
    this.counts.length = 0;
    this.queuedMessages = 0;
    this.queuedBytes = 0;
    if (this.writeTimer) clearTimeout(this.writeTimer);
    this.writeTimer = null;
    if (this.drainListener) this.socket?.removeListener('drain', this.drainListener);
  }

  /** @internal A ping from the peer: it counts against the inbound rate limit. */
  onPing(): void {
    if (this.admitInbound()) this.lastSeen = Date.now();
  }

  /** @internal */
  onError(error: Error): void {
    const code = (error as { code?: unknown }).code;
    this.host.reporter.report('warn', 'socket_error',
      `livehub: connection ${this.id} from ${this.request.socket?.remoteAddress ?? 'unknown'} failed: ${error.message}${typeof code === 'string' ? ` (${code})` : ''}; it was closed`,
      error, `socket_error:${typeof code === 'string' ? code : error.message}`);
  }

  /** @internal */
  onClose(): void {
    this.state = 'closed';
    this.dropQueue();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.host.unregister(this);
  }

  /** Closes with 4002 when the credential expires, so the client reconnects with a fresh token. */
  private armExpiry(expiresAt: number): void {
    const wait = expiresAt - Date.now();
    const longest = 2 ** 31 - 1; // setTimeout's limit; longer waits re-arm
    if (wait <= 0) {
      queueMicrotask(() => this.close(CloseCode.TokenExpired, 'token expired'));
      return;
    }
    this.expiryTimer = setTimeout(() => {
      if (wait > longest) this.armExpiry(expiresAt);
      else this.close(CloseCode.TokenExpired, 'token expired');
    }, Math.min(wait, longest));
    this.expiryTimer.unref();
  }

  /**
   * The inbound rate limit (messages and pings): false when the message must be dropped. After
   * `rateLimitBurst` drops within one second the connection is closed with 4003.
   */
  private admitInbound(): boolean {
    const { rateLimit, rateLimitBurst } = this.host.options;
    if (takeToken(this, rateLimit, rateLimitBurst)) return true;
    const now = Date.now();
    if (now - this.dropWindow > 1000) {
      this.dropWindow = now;
      this.dropped = 0;
    }
    if (++this.dropped === rateLimitBurst) this.host.closeClient(this, CloseCode.RateLimited, 'rate limited');
    return false;
  }

  /** @internal The reader. Messages are handled one at a time, in order, even when a policy is async. */
  onMessage(data: Buffer, isBinary: boolean): void {
    this.lastSeen = Date.now();
    if (this.state !== 'open') return;
    if (isBinary) {
      this.close(CloseCode.UnsupportedData, 'binary messages are not part of the JSON protocol');
      return;
    }
    if (!this.admitInbound()) {
      if (this.dropped === 1 && this.state === 'open') {
        this.host.reply(this, { type: 'error', code: ErrorCode.RateLimited, message: 'too many messages; slow down' });
      }
      return;
    }
    const text = data.toString('utf8');
    const run = () => this.handle(text);
    const pending = this.reading ? this.reading.then(run) : run();
    if (!pending) return;
    const tracked: Promise<void> = pending.then(() => { if (this.reading === tracked) this.reading = null; });
    this.reading = tracked;
  }

  private handle(text: string): Promise<void> | void {
    const { maxJsonDepth, maxJsonKeys } = this.host.options;
    const shape = scanJson(text, maxJsonDepth, maxJsonKeys);
    if (shape !== 'ok') {
      const code = shape === 'too_deep' ? ErrorCode.TooDeep : ErrorCode.TooManyKeys;
      this.host.reply(this, { type: 'error', code, message: shape === 'too_deep' ? `nesting deeper than ${maxJsonDepth}` : `more than ${maxJsonKeys} keys` });
      return;
    }
    const command = parseCommand(text);
    if ('error' in command) {
      this.host.reply(this, command.error);
      return;
    }
    if (command.type === 'subscribe' || command.type === 'publish') return this.authorize(command);
    this.host.command(this, command);
  }

  /** Asks the channel policy; a denial is an error frame `forbidden`, and the connection stays open. */
  private authorize(command: Extract<ClientCommand, { type: 'subscribe' | 'publish' }>): Promise<void> | void {
    const { authorize, canPublish } = this.host.options;
    const reporter = this.host.reporter;
    const verdict = decide({
      action: command.type, channel: command.channel, identity: this.identity, clientId: this.id, request: this.request,
      ...(command.type === 'publish' ? { event: command.event, data: command.data } : {}),
    }, { authorize, canPublish }, (error) => reporter.error(error, 'authorize_failed', `livehub: authorize threw for ${command.type} on ${command.channel}: ${error.message}; the request was denied`));
    const apply = (allowed: boolean) => {
      if (this.state !== 'open') return;
      if (allowed) return this.host.command(this, command);
      this.host.reply(this, withId({
        type: 'error', code: ErrorCode.Forbidden, channel: command.channel,
        message: command.type === 'publish' ? 'publishing to this channel is not allowed' : 'subscribing to this channel is not allowed',
      }, command.id));
    };
    if (typeof verdict === 'boolean') return apply(verdict);
    return verdict.then(apply);
  }
}
