import { clampCloseReason, CloseCode, ErrorCode, HEARTBEAT_FRAME, type PresenceStatus, type ServerReply } from '../protocol/index.js';
import type { Transport, TransportEvents, WireFormat } from './transport.js';
import type { Identity } from './auth.js';
import { clock } from '../clock.js';
import { expiries, type Expiring } from './expiry.js';
import { takeToken, TOKEN, type Bucket } from './limits.js';
import type { ResolvedHubOptions } from './options.js';
import type { RequestInfo } from './policy.js';
import type { Reporter } from './report.js';
import { ClientStreams } from './streams.js';
import { Replays, type ReplayBacklog } from './replays.js';
import type { HubCounters } from './counters.js';
export type { HubCounters };

/** What a session needs of its hub. Only the hub's loop mutates hub state; these calls enqueue. */
export interface SessionHost {
  readonly options: ResolvedHubOptions;
  readonly counters: HubCounters;
  /** Where failures are logged. */
  readonly reporter: Reporter;
  /** An inbound message, for the command router. */
  receive(session: Session, text: string): void;
  /** Queues a reply to this session, in order with its other frames. */
  reply(session: Session, reply: ServerReply): void;
  /** The session is closing or closed: queues its removal. */
  unregister(session: Session): void;
  /** Queues a close, after the replies already queued for the session (which it flushes first). */
  closeSession(session: Session, code: number, reason: string): void;
  /** A slow consumer was evicted (for events and metrics). */
  evicted(session: Session, why: string): void;
  /** The session's transport pushed back (for the `backpressure` event). */
  pushedBack?(session: Session): void;
}

type Lifecycle = 'open' | 'closing' | 'closed';

/** The hub's heartbeat in each wire format, encoded once. */
const heartbeats = new WeakMap<WireFormat, Buffer>();

/**
 * One connection, whatever carries it: who it is, where it stands in its channels, and its outbound
 * queue with the slow-consumer policy (at most `sendBuffer` live messages and `maxBufferedBytes`
 * bytes of them waiting, and no write blocked longer than `writeWait`; a subscribe's replay does not
 * count against the first two: replays.ts). Its transport is its one writer: a turn's
 * frames for this session go out in one corked write. Its one reader is the transport's message
 * callback, which hands each message to the hub's command router.
 */
export class Session implements Bucket, TransportEvents, Expiring {
  /** Channels this session is in. Mutated only by the hub's loop. */
  readonly channels = new Set<string>();
  /** When the peer last showed it is alive (a pong or any message), on `clock()` (limits.ts). */
  lastSeen = clock();
  /** When the hub last pinged the peer, on `clock()`. */
  lastPing = clock();
  /** When frames were last written to the peer (pings aside), on `clock()`: a heartbeat is due a period after. */
  lastWrite = clock();
  /** The hub's sweep wheel slot this session waits in (sweep.ts; 0: none). */
  sweepSlot = 0;
  /** Set by the hub's loop while the session is dirty in the current turn. */
  dirty = false;
  /** Where the session stands in its channels' streams (recovery, floors). Owned by the hub's loop. */
  readonly streams = new ClientStreams();
  /** Tag filters of the session's subscriptions that have one (null: none). Owned by the hub's loop. */
  filters: Map<string, Record<string, string>> | null = null;
  /** The presence channels the session is in, with its status there (null: none). Owned by the hub's loop. */
  presence: Map<string, PresenceStatus> | null = null;
  state: Lifecycle = 'open';
  /** How the connection closed (once it is closing or closed), when known. */
  closeCode: number | undefined = undefined;
  closeReason: string | undefined = undefined;
  /** The inbound rate limit's token bucket (see `takeToken`): thousandths of a token. */
  tokens: number;
  refilledAt = clock();
  /** Inbound messages dropped by the rate limit since `dropWindow` began (windows of one second). */
  dropped = 0;
  private dropWindow = 0;
  /** The router's chain of this session's messages: each waits for the one before (async policies). */
  reading: Promise<void> | null = null;

  /** Frames waiting, and how many messages each holds; null while none wait (most of a session's life). */
  private queue: Buffer[] | null = null;
  private counts: number[] | null = null;
  private queuedMessages = 0;
  private queuedBytes = 0;
  /** Bytes ever queued: where the queue ends in the session's stream of bytes (replays.ts). */
  private enqueuedBytes = 0;
  /** Replays not yet sent whole (null: none, most of a session's life). */
  private replays: Replays | null = null;
  private blocked = false;
  private writeTimer: NodeJS.Timeout | null = null;
  private afterDrain: (() => void) | null = null;
  /** The drain listener, made the first time the transport pushes back. */
  private drainListener: (() => void) | null = null;
  private whenClosed: Array<() => void> | null = null;
  /** The expiry wheel's bucket this session is in (0: none). The app's Identity may change meanwhile. */
  private expirySlot = 0;

  constructor(
    readonly id: string,
    readonly transport: Transport,
    readonly request: RequestInfo,
    private readonly host: SessionHost,
    /** Who this connection belongs to (from `authenticate`), or null. */
    readonly identity: Identity | null = null,
    /**
     * Whether the peer speaks livehub's full protocol (the `livehub.v1` subprotocol, or a transport
     * only livehub's clients use). Otherwise it speaks the plain protocol, and gets only real messages
     * on frames with a `channel` key (docs/protocol.md).
     */
    readonly fullProtocol = true,
  ) {
    this.tokens = host.options.rateLimitBurst * TOKEN;
    // Closed with 4002 when the credential expires (expiry.ts: one timer for every connection).
    if (identity?.expiresAt !== undefined) this.expirySlot = expiries.add(this, identity.expiresAt);
  }

  /** Bytes waiting for this session: livehub's queue plus the transport's own buffer. */
  get bufferedBytes(): number {
    return this.queuedBytes + this.transport.writableLength;
  }

  /** Queues frames (`messages` hub messages encoded in `frames`). Called by the hub's loop. */
  enqueue(frames: Buffer, messages: number): void {
    if (this.state !== 'open') return;
    if (this.queue === null) {
      this.queue = [frames];
      this.counts = [messages];
    } else {
      this.queue.push(frames);
      this.counts!.push(messages);
    }
    this.queuedMessages += messages;
    this.queuedBytes += frames.length;
    this.enqueuedBytes += frames.length;
  }

  /**
   * Queues a subscribe's replay of `channel`: frames as `enqueue`, which the slow-consumer limits do
   * not count while they wait (the history size the client asked for bounds them). Called by the hub's loop.
   */
  enqueueReplay(channel: string, frames: Buffer, messages: number): void {
    if (this.state !== 'open') return;
    this.enqueue(frames, messages);
    (this.replays ??= new Replays()).add(channel, this.enqueuedBytes, frames.length, messages);
  }

  /**
   * Writes what the transport will take without passing the high-water mark, in one write (more
   * only when the transport takes a write whole and a large frame left the rest behind). What is
   * left waits for drain; if that is more than the session's buffer allows, or the transport does not
   * drain within `writeWait`, the session is evicted as a slow consumer.
   */
  flush(now?: number): void {
    if (this.state !== 'open' || !this.transport.writable) return;
    if (this.blocked) {
      this.evictIfOverflowing();
      return;
    }
    if (this.queue === null) return this.runAfterDrain();
    const { highWaterMark } = this.host.options;
    const transport = this.transport;
    // A transport that took a write whole (a socket's write done at once) has room for more, and no
    // 'drain' will come to say so: write on until the queue is empty or the transport is full.
    // Stryker disable next-line ConditionalExpression: a session leaves 'open' only through close() or closed(), which drop the queue
    while (this.queue !== null && this.state === 'open' && transport.writableLength < highWaterMark) this.write(this.queue, highWaterMark, now);
    if (this.state !== 'open') return;
    if (this.queue !== null || transport.writableLength >= highWaterMark) this.block();
    else this.runAfterDrain();
  }

  /** Writes from the head of the queue what fits below the high-water mark (at least one frame), in one write. */
  private write(queue: Buffer[], highWaterMark: number, now: number | undefined): void {
    const counts = this.counts!;
    const transport = this.transport;
    const counters = this.host.counters;
    let room = highWaterMark - transport.writableLength;
    let taken = 0;
    let frames = 0;
    while (taken < queue.length && room > 0) {
      const chunk = queue[taken]!;
      room -= chunk.length;
      this.queuedBytes -= chunk.length;
      frames += counts[taken]!;
      counters.bytes += chunk.length;
      taken++;
    }
    // Stryker disable next-line ConditionalExpression: write() runs only below the high-water mark, so the first frame is always taken
    if (taken > 0) {
      let chunks = queue;
      if (taken === queue.length) {
        this.queue = this.counts = null;
      } else {
        chunks = queue.splice(0, taken);
        counts.splice(0, taken);
      }
      this.queuedMessages -= frames;
      counters.frames += frames;
      counters.writes++;
      transport.write(chunks, frames);
      this.lastWrite = now ?? clock();
    }
  }

  /** Asks the peer for a sign of life. */
  ping(): void {
    if (this.state === 'open') this.transport.ping();
  }

  /**
   * Writes the hub's heartbeat when nothing waits to be written: frames that wait show the peer the
   * link is alive when they go. Returns whether it wrote.
   */
  heartbeat(now: number): boolean {
    const { transport } = this;
    if (this.state !== 'open' || this.queue !== null || this.blocked || !transport.writable ||
        transport.writableLength >= this.host.options.highWaterMark) return false;
    let frame = heartbeats.get(transport.format);
    // Stryker disable next-line ConditionalExpression: encoding the heartbeat again gives the same bytes; the cache only saves the work
    if (frame === undefined) heartbeats.set(transport.format, (frame = transport.format.encodeReply(HEARTBEAT_FRAME)));
    const counters = this.host.counters;
    counters.writes++;
    counters.frames++;
    counters.bytes += frame.length;
    transport.write([frame], 1);
    this.lastWrite = now;
    return true;
  }

  /**
   * Closes once every queued frame is written (or after `writeWait`, terminating). Resolves when the
   * connection is closed. Used by `hub.close()`.
   */
  shutdown(code: number, reason: string): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    return new Promise((resolve) => {
      (this.whenClosed ??= []).push(resolve);
      if (this.state !== 'open') return;
      if (this.queue === null && !this.blocked) return this.close(code, reason);
      this.afterDrain = () => this.close(code, reason);
      setTimeout(() => this.terminate(), this.host.options.writeWait).unref();
    });
  }

  /**
   * Closes with a code and reason; the connection is terminated if the close takes too long. With
   * `flush`, frames already queued (an error frame explaining the close) are written first; a slow
   * consumer's backlog is dropped instead.
   */
  close(code: number, reason: string, flush = false): void {
    if (this.state !== 'open') return;
    if (flush) this.flush();
    this.state = 'closing';
    this.closeCode = code;
    this.closeReason = reason;
    this.dropQueue();
    this.host.unregister(this); // no more fan-out to a closing session
    try {
      this.transport.close(code, clampCloseReason(reason));
    } catch (error) {
      // Never leave a connection open (or its slot held) because a close threw.
      this.host.reporter.error(error, 'close_failed', `livehub: closing ${this.id} with ${code} threw (${(error as Error).message}); terminated instead`);
      this.transport.terminate();
      return;
    }
    const timer = setTimeout(() => this.terminate(), this.host.options.writeWait);
    timer.unref();
    (this.whenClosed ??= []).push(() => clearTimeout(timer));
  }

  /** Drops the connection at once (a dead or hopeless peer). */
  terminate(): void {
    this.dropQueue();
    this.transport.terminate();
  }

  /**
   * Evicts the session (close 4001) if the live traffic waiting for it exceeds `sendBuffer` or
   * `maxBufferedBytes`: what waits, less the replays on their way.
   */
  private evictIfOverflowing(): boolean {
    const { sendBuffer, maxBufferedBytes } = this.host.options;
    const replayed = this.replayBacklog();
    const messages = this.queuedMessages - replayed.messages;
    const bytes = this.bufferedBytes - replayed.bytes;
    if (messages <= sendBuffer && bytes <= maxBufferedBytes) return false;
    const besides = replayed.bytes > 0 ? `, besides replays (${replayed.messages} messages queued, ${replayed.bytes} bytes unsent), which do not count` : '';
    this.evict(`${messages} messages and ${bytes} bytes were waiting (sendBuffer ${sendBuffer}, maxBufferedBytes ${maxBufferedBytes})${besides}`, 'slow consumer');
    return true;
  }

  /** The replays' part of what waits: messages in the queue, bytes not yet sent (replays.ts). */
  private replayBacklog(): ReplayBacklog {
    const backlog = { messages: 0, bytes: 0 };
    if (this.replays === null) return backlog;
    const handed = this.enqueuedBytes - this.queuedBytes;
    if (this.replays.backlog(handed, handed - this.transport.writableLength, this.channels, backlog)) this.replays = null;
    return backlog;
  }

  /** Closes a slow consumer with 4001, and says so. */
  private evict(why: string, reason: string): void {
    this.host.counters.evictions++;
    this.host.evicted(this, why);
    this.close(CloseCode.SlowConsumer, reason);
  }

  private block(): void {
    if (this.evictIfOverflowing() || this.blocked) return;
    const { writeWait } = this.host.options;
    this.blocked = true;
    this.host.pushedBack?.(this);
    this.transport.onceDrain((this.drainListener ??= () => this.onDrain()));
    this.writeTimer = setTimeout(() => {
      this.evict(`its ${this.transport.name} connection did not drain for writeWait (${writeWait} ms)`, 'write timeout');
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
    this.queue = this.counts = null;
    this.replays = null;
    this.queuedMessages = 0;
    this.queuedBytes = 0;
    if (this.writeTimer) clearTimeout(this.writeTimer);
    this.writeTimer = null;
    if (this.drainListener) this.transport.offDrain(this.drainListener);
  }

  // TransportEvents: called by the transport from its network callbacks.

  receive(text: string): void {
    this.lastSeen = clock();
    if (this.state !== 'open') return;
    this.host.receive(this, text);
  }

  alive(): void {
    this.lastSeen = clock();
  }

  /** A ping from the peer: it counts against the inbound rate limit. False: refused (leave it unanswered). */
  pinged(): boolean {
    if (!this.admitInbound()) return false;
    this.lastSeen = clock();
    return true;
  }

  failed(error: Error): void {
    const code = (error as { code?: unknown }).code;
    this.host.reporter.report('warn', 'socket_error',
      `livehub: ${this.transport.name} connection ${this.id} from ${this.request.socket?.remoteAddress ?? 'unknown'} failed: ${error.message}${typeof code === 'string' ? ` (${code})` : ''}; it was closed`,
      error, `socket_error:${typeof code === 'string' ? code : error.message}`);
  }

  closed(code?: number, reason?: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeCode ??= code;
    this.closeReason ??= reason;
    this.dropQueue();
    if (this.expirySlot !== 0) expiries.remove(this, this.expirySlot);
    this.host.unregister(this);
    for (const then of this.whenClosed?.splice(0) ?? []) then();
  }

  /**
   * The inbound rate limit (messages and pings): false when the message must be dropped. After
   * `rateLimitBurst` drops within one second the connection is closed with 4003.
   */
  admitInbound(): boolean {
    const { rateLimit, rateLimitBurst } = this.host.options;
    if (takeToken(this, rateLimit, rateLimitBurst)) return true;
    const now = clock();
    if (now - this.dropWindow > 1000) {
      this.dropWindow = now;
      this.dropped = 0;
    }
    if (++this.dropped === rateLimitBurst) this.host.closeSession(this, CloseCode.RateLimited, 'rate limited');
    else if (this.dropped === 1) this.host.reply(this, { type: 'error', code: ErrorCode.RateLimited, message: 'too many messages; slow down' });
    return false;
  }

  /** The credential expired: closes with 4002, so the client reconnects with a fresh token. */
  expire(): void {
    this.close(CloseCode.TokenExpired, 'token expired');
  }
}
