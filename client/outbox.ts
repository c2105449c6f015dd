import type { RequestId } from '../pkg/protocol/index.js';
import { LiveError } from './errors.js';
import type { ResolvedOptions } from './options.js';

/** What the outbox needs from its client. */
export interface OutboxHost {
  /** Sends a frame when the connection is open (else drops it: it goes out again on open). */
  send(frame: string): void;
  isOpen(): boolean;
  /** Storage failed (quota, disabled): reported, and the outbox stays in memory. */
  reportError(error: Error): void;
  /** The number of entries changed. */
  changed(size: number): void;
}

/**
 * An entry: a publish (sent again with the same id until acked; kept in `outbox.storage`), a request (sent
 * once, settled by its reply or error, or after its timeout), or a queued fire-and-forget message
 * (done once sent).
 */
interface Pending {
  kind: 'publish' | 'request' | 'message';
  /** The publish's channel. */
  channel?: string;
  /** The request's or message's type (for error messages). */
  type?: string;
  frame: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
  attempts: number;
  /** A request's reply deadline, in ms from its send. */
  timeout?: number;
}

/**
 * What waits for the connection, in the order it was made: publishes until acked (sent on open,
 * sent again with the same id after `ackTimeout` or a reconnect, optionally kept in `outbox.storage`), and
 * queued requests and messages. Bounded by `outbox.maxSize`.
 */
export class Outbox {
  private readonly pending = new Map<RequestId, Pending>();

  constructor(private readonly host: OutboxHost, private readonly options: ResolvedOptions) {}

  get size(): number {
    return this.pending.size;
  }

  has(id: RequestId): boolean {
    return this.pending.has(id);
  }

  /** What a pending entry is: a publish (with its channel), a request or a message (with its type). */
  describe(id: RequestId): { kind: Pending['kind']; channel?: string; type?: string } | undefined {
    const entry = this.pending.get(id);
    return entry && { kind: entry.kind, channel: entry.channel, type: entry.type };
  }

  /** The channel a pending publish is for. */
  channelOf(id: RequestId): string | undefined {
    return this.pending.get(id)?.channel;
  }

  /** Queues a publish; throws a TypeError when its data cannot be sent as JSON. */
  add(id: string, channel: string, type: string, data: unknown, exceptSelf = false): Promise<void> {
    const frame = encodePublish(id, channel, type, data, exceptSelf);
    return this.enqueue(id, { kind: 'publish', channel, frame }) as Promise<void>;
  }

  /**
   * Sends a request (now, or on open) and resolves with its reply's data; rejects on an error frame,
   * after `timeout` ms without a reply, or when the connection drops before the reply (the server may
   * or may not have handled it: requests are never sent twice).
   */
  request(id: string, frame: string, type: string, timeout: number): Promise<unknown> {
    return this.enqueue(id, { kind: 'request', type, frame, timeout });
  }

  /** Queues a message with no reply; it is done once sent. */
  message(id: string, frame: string, type: string): void {
    this.enqueue(id, { kind: 'message', type, frame }).catch((error: Error) => this.host.reportError(error));
  }

  /** The connection opened: everything pending goes out, in order. */
  sendAll(): void {
    for (const [id, entry] of [...this.pending]) this.transmit(id, entry);
  }

  /**
   * The connection dropped: stop the ack timers (the publishes go out again, same id, on open);
   * requests already sent cannot be answered any more and are rejected (`connection_lost`).
   */
  pause(): void {
    for (const [id, entry] of [...this.pending]) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = null;
      if (entry.kind === 'request' && entry.attempts > 0) {
        this.settle(id, new LiveError('connection_lost', `the connection dropped before the reply to "${entry.type}" came; the server may or may not have handled it`));
      }
    }
  }

  /** The server answered a pending entry with an error: it settles with it. Returns true (it is settled). */
  refused(id: RequestId, error: LiveError): boolean {
    this.settle(id, error);
    return true;
  }

  /** Rejects everything pending (publishes stay in storage, for the next client). */
  rejectAll(error: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, error, undefined, false);
  }

  /** Ends an entry: resolved with `value` (error null) or rejected; `forget` also removes it from storage. */
  settle(id: RequestId, error: Error | null, value?: unknown, forget = true): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    this.host.changed(this.pending.size);
    if (entry.timer) clearTimeout(entry.timer);
    if (forget) this.save();
    if (error) entry.reject(error);
    else entry.resolve(value);
  }

  private enqueue(id: string, fields: Pick<Pending, 'kind' | 'channel' | 'type' | 'frame' | 'timeout'>): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      if (this.pending.size >= this.options.outbox.maxSize) {
        const what = fields.kind === 'publish' ? 'publish' : `"${fields.type}"`;
        if (this.options.outbox.overflow === 'reject') return reject(new LiveError('queue_full', `the outbox is full: ${what} was not queued`, fields.channel));
        const oldest = this.pending.keys().next().value!;
        this.settle(oldest, new LiveError('queue_full', 'dropped: the outbox is full', this.channelOf(oldest)));
      }
      const entry: Pending = { ...fields, resolve, reject, timer: null, attempts: 0 };
      this.pending.set(id, entry);
      this.host.changed(this.pending.size);
      if (this.host.isOpen()) this.transmit(id, entry);
      if (entry.kind === 'publish' || entry.attempts === 0) this.save();
    });
  }

  /** Sends an entry: a publish again, with the same id, after an ack timeout or a reconnect. */
  private transmit(id: RequestId, entry: Pending): void {
    if (entry.timer) clearTimeout(entry.timer);
    if (entry.kind !== 'publish') {
      if (entry.attempts > 0) return;
      entry.attempts++;
      this.host.send(entry.frame);
      if (this.options.outbox.storage) this.save();
      if (entry.kind === 'message') return this.settle(id, null);
      entry.timer = setTimeout(() => {
        this.settle(id, new LiveError('timeout', `no reply to "${entry.type}" within ${entry.timeout} ms`));
      }, entry.timeout);
      return;
    }
    entry.attempts++;
    this.host.send(entry.frame);
    entry.timer = setTimeout(() => {
      entry.timer = null;
      if (entry.attempts >= this.options.outbox.maxAttempts) {
        this.settle(id, new LiveError('timeout', `no ack after ${entry.attempts} attempts`, entry.channel));
      } else if (this.host.isOpen()) this.transmit(id, entry);
    }, this.options.ackTimeout);
  }

  /**
   * Keeps, in order, what a reload must not lose: every unacked publish, and the requests and
   * messages not sent yet (one already sent is never sent again). Each kept entry is
   * `[id, frame, kind, type?, timeout?]`.
   */
  private save(): void {
    const { storage, storageKey } = this.options.outbox;
    if (!storage) return;
    try {
      const kept: KeptEntry[] = [];
      for (const [id, entry] of this.pending) {
        if (entry.kind === 'publish') kept.push([id, entry.frame]);
        else if (entry.attempts === 0) kept.push(entry.kind === 'request' ? [id, entry.frame, 'request', entry.type!, entry.timeout!] : [id, entry.frame, 'message', entry.type!]);
      }
      if (kept.length === 0) storage.removeItem(storageKey);
      else storage.setItem(storageKey, JSON.stringify(kept));
    } catch (error) {
      this.host.reportError(error as Error);
    }
  }

  /**
   * Takes what an earlier page or client kept; it goes out, in order, on the next open. A kept
   * request has no caller any more: its reply comes as the client's `reply` event, its failure as `error`.
   */
  restore(): void {
    const { storage, storageKey } = this.options.outbox;
    if (!storage) return;
    let kept: unknown;
    try {
      kept = JSON.parse(storage.getItem(storageKey) ?? '[]');
    } catch {
      kept = [];
    }
    if (!Array.isArray(kept)) return;
    const orphan = { resolve: () => {}, reject: (error: Error) => this.host.reportError(error), timer: null, attempts: 0 };
    for (const item of kept.slice(-this.options.outbox.maxSize)) {
      if (!Array.isArray(item) || typeof item[0] !== 'string' || typeof item[1] !== 'string') continue;
      const [id, frame, kind, type, timeout] = item as unknown[];
      if (kind === undefined) this.pending.set(id as string, { kind: 'publish', channel: channelOfFrame(frame as string), frame: frame as string, ...orphan, reject: () => {} });
      else if (kind === 'request' && typeof type === 'string' && typeof timeout === 'number') this.pending.set(id as string, { kind, type, frame: frame as string, timeout, ...orphan });
      else if (kind === 'message' && typeof type === 'string') this.pending.set(id as string, { kind, type, frame: frame as string, ...orphan });
    }
  }
}

/** An outbox entry as kept in storage: a publish `[id, frame]`, or a request or message not sent yet. */
type KeptEntry = [RequestId, string] | [RequestId, string, 'request', string, number] | [RequestId, string, 'message', string];

/**
 * The publish frame. Data that JSON cannot carry (a BigInt, a cycle, a function) is a TypeError
 * naming the channel, thrown at once: sending it could never succeed.
 */
function encodePublish(id: string, channel: string, type: string, data: unknown, exceptSelf: boolean): string {
  try {
    if (data !== undefined && JSON.stringify(data) === undefined) throw new TypeError(`a ${typeof data} is not JSON`);
    // The wire's publish frame carries the message's type as `event` (the frame's own `type` is `publish`).
    const command = { type: 'publish', channel, event: type, data: data ?? null, id };
    return JSON.stringify(exceptSelf ? { ...command, exceptSelf: true } : command);
  } catch (error) {
    throw new TypeError(`livehub: cannot publish to "${channel}": the data cannot be sent as JSON (${(error as Error).message})`);
  }
}

function channelOfFrame(frame: string): string {
  try {
    const channel = (JSON.parse(frame) as { channel?: unknown }).channel;
    return typeof channel === 'string' ? channel : '';
  } catch {
    return '';
  }
}
