import type { HubMessage } from '../../pkg/protocol/index.js';
import { ValueStore } from './store.js';

/** One received message, as `useRealtime` lists them. */
export interface RealtimeEvent<T = unknown> {
  /** The message's type. */
  readonly type: string;
  /**
   * The same as `type`.
   * @deprecated Use `type`, the name every other message field uses.
   */
  readonly event: string;
  readonly data: T;
  readonly channel: string;
  /** When it arrived (`Date.now()`). */
  readonly receivedAt: number;
  /** The whole hub message (`offset`, `from`, …). */
  readonly message: HubMessage<T>;
}

/** The default number of events a log keeps (the oldest go first). */
export const DEFAULT_MAX_EVENTS = 100;

/** A capped, newest-last list of events as a store: a new array on every change. */
export class EventLog<T = unknown> extends ValueStore<readonly RealtimeEvent<T>[]> {
  constructor(readonly max = DEFAULT_MAX_EVENTS) {
    if (!(Number.isInteger(max) && max > 0)) throw new TypeError(`livehub: max must be a positive integer, got ${String(max)}`);
    super(Object.freeze([]));
  }

  push(message: HubMessage<T>): RealtimeEvent<T> {
    const entry: RealtimeEvent<T> = Object.freeze({ type: message.type, event: message.type, data: message.data, channel: message.channel, receivedAt: Date.now(), message });
    const current = this.getSnapshot();
    const next = current.length >= this.max ? current.slice(current.length - this.max + 1) : current.slice();
    next.push(entry);
    this.set(Object.freeze(next));
    return entry;
  }

  clear(): void {
    if (this.getSnapshot().length > 0) this.set(Object.freeze([]));
  }
}
