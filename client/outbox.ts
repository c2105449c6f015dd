import type { RequestId } from '../pkg/protocol.js';
import { LiveError } from './errors.js';
import type { ResolvedOptions } from './options.js';

/** What the outbox needs from its client. */
export interface OutboxHost {
  /** Sends a frame when the connection is open (else drops it: it goes out again on open). */
  send(frame: string): void;
  isOpen(): boolean;
  /** Storage failed (quota, disabled): reported, and the outbox stays in memory. */
  reportError(error: Error): void;
}

interface PendingPublish {
  channel: string;
  frame: string;
  resolve: () => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
  attempts: number;
}

/**
 * Publishes until acked, in publish order: sent on open, sent again with the same id after
 * `ackTimeout` or a reconnect, bounded by `maxQueuedPublishes`, optionally kept in `storage`.
 */
export class Outbox {
  private readonly pending = new Map<RequestId, PendingPublish>();

  constructor(private readonly host: OutboxHost, private readonly options: ResolvedOptions) {}

  get size(): number {
    return this.pending.size;
  }

  has(id: RequestId): boolean {
    return this.pending.has(id);
  }

  /** The channel a pending publish is for. */
  channelOf(id: RequestId): string | undefined {
    return this.pending.get(id)?.channel;
  }

  /** Queues a publish; throws a TypeError when its data cannot be sent as JSON. */
  add(id: string, channel: string, event: string, data: unknown): Promise<void> {
    const frame = encodePublish(id, channel, event, data);
    return new Promise<void>((resolve, reject) => {
      if (this.pending.size >= this.options.maxQueuedPublishes) {
        if (this.options.queueOverflow === 'reject') return reject(new LiveError('queue_full', 'the publish outbox is full', channel));
        const oldest = this.pending.keys().next().value!;
        this.settle(oldest, new LiveError('queue_full', 'dropped: the publish outbox is full', this.channelOf(oldest)));
      }
      const entry: PendingPublish = { channel, frame, resolve, reject, timer: null, attempts: 0 };
      this.pending.set(id, entry);
      this.save();
      if (this.host.isOpen()) this.transmit(id, entry);
    });
  }

  /** The connection opened: everything pending goes out, in order. */
  sendAll(): void {
    for (const [id, entry] of this.pending) this.transmit(id, entry);
  }

  /** The connection dropped: stop the ack timers; the publishes go out again (same id) on open. */
  pause(): void {
    for (const entry of this.pending.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = null;
    }
  }

  /** Rejects every pending publish (kept in storage, for the next client). */
  rejectAll(error: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, error, false);
  }

  /** Ends a publish: resolved (null) or rejected; `forget` also removes it from storage. */
  settle(id: RequestId, error: Error | null, forget = true): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    if (forget) this.save();
    if (error) entry.reject(error);
    else entry.resolve();
  }

  /** Sends a publish (again, with the same id, after an ack timeout or a reconnect). */
  private transmit(id: RequestId, entry: PendingPublish): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.attempts++;
    this.host.send(entry.frame);
    entry.timer = setTimeout(() => {
      entry.timer = null;
      if (entry.attempts >= this.options.maxPublishAttempts) {
        this.settle(id, new LiveError('timeout', `no ack after ${entry.attempts} attempts`, entry.channel));
      } else if (this.host.isOpen()) this.transmit(id, entry);
    }, this.options.ackTimeout);
  }

  private save(): void {
    const { storage, storageKey } = this.options;
    if (!storage) return;
    try {
      if (this.pending.size === 0) storage.removeItem(storageKey);
      else storage.setItem(storageKey, JSON.stringify([...this.pending].map(([id, entry]) => [id, entry.frame])));
    } catch (error) {
      this.host.reportError(error as Error);
    }
  }

  /** Takes publishes kept by an earlier page or client; they go out on the next open. */
  restore(): void {
    const { storage, storageKey } = this.options;
    if (!storage) return;
    let kept: unknown;
    try {
      kept = JSON.parse(storage.getItem(storageKey) ?? '[]');
    } catch {
      kept = [];
    }
    if (!Array.isArray(kept)) return;
    for (const item of kept) {
      if (!Array.isArray(item) || typeof item[0] !== 'string' || typeof item[1] !== 'string') continue;
      this.pending.set(item[0], { channel: channelOfFrame(item[1]), frame: item[1], resolve: () => {}, reject: () => {}, timer: null, attempts: 0 });
    }
  }
}

/**
 * The publish frame. Data that JSON cannot carry (a BigInt, a cycle, a function) is a TypeError
 * naming the channel, thrown at once: sending it could never succeed.
 */
function encodePublish(id: string, channel: string, event: string, data: unknown): string {
  try {
    if (data !== undefined && JSON.stringify(data) === undefined) throw new TypeError(`a ${typeof data} is not JSON`);
    return JSON.stringify({ type: 'publish', channel, event, data: data ?? null, id });
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
