/**
 * When connections' credentials expire, for every hub in the process: each connection is kept in the
 * bucket of the second its credential expires in (a JWT's `exp` is whole seconds, so it is closed
 * right then), and one timer runs for the earliest bucket. A timer per connection would cost about
 * 340 bytes of heap each (a Timeout, and a timer list for each distinct delay; measured with 20,000),
 * which with JWTs that expire is every authenticated connection.
 */

/** What the wheel needs of a connection: closing it when its credential has expired. */
export interface Expiring {
  expire(): void;
}

/** Bucket width in ms: a credential is closed at most this long after it expires. */
export const EXPIRY_STEP = 1000;
/** setTimeout's longest delay; later buckets are reached by re-arming. */
const LONGEST = 2 ** 31 - 1;

export class ExpiryWheel<T extends Expiring = Expiring> {
  private readonly buckets = new Map<number, Set<T>>();
  /** Bucket numbers, a binary min-heap; a bucket emptied by `remove` is skipped when it comes up. */
  private readonly heap: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The bucket the timer is armed for (Infinity: none). */
  private armed = Infinity;

  /** `failed`: what to do with an error an `expire()` threw (by default, it is thrown again, uncaught, as a timer's would be). */
  constructor(private readonly failed: (error: unknown) => void = (error) => queueMicrotask(() => { throw error; })) {}

  /**
   * Closes `item` once `expiresAt` (ms since the epoch, finite) has passed; at once (next microtask)
   * if it has. Returns the bucket to `remove` it from (0: none, it expires now).
   */
  add(item: T, expiresAt: number): number {
    if (expiresAt <= Date.now()) {
      queueMicrotask(() => item.expire());
      return 0;
    }
    const slot = Math.ceil(expiresAt / EXPIRY_STEP);
    let bucket = this.buckets.get(slot);
    if (!bucket) {
      this.buckets.set(slot, (bucket = new Set()));
      this.push(slot);
    }
    bucket.add(item);
    if (slot < this.armed) this.arm(slot);
    return slot;
  }

  /**
   * Forgets `item` (it closed first), given the bucket `add` returned. An emptied bucket stays until
   * its second comes, so a reconnect in the same second reuses it rather than adding its second to
   * the heap again.
   */
  remove(item: T, slot: number): void {
    this.buckets.get(slot)?.delete(item);
  }

  /** Connections waiting for their expiry (for tests and stats). */
  get size(): number {
    let n = 0;
    for (const bucket of this.buckets.values()) n += bucket.size;
    return n;
  }

  private arm(slot: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.armed = slot;
    this.timer = setTimeout(this.fire, Math.min(Math.max(slot * EXPIRY_STEP - Date.now(), 0), LONGEST));
    this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = null;
    this.armed = Infinity;
    const now = Date.now();
    while (this.heap.length > 0) {
      const slot = this.heap[0]!;
      const bucket = this.buckets.get(slot);
      if (bucket && slot * EXPIRY_STEP > now) {
        this.arm(slot);
        return;
      }
      this.pop();
      if (!bucket) continue;
      this.buckets.delete(slot);
      for (const item of bucket) {
        try {
          item.expire();
        } catch (error) {
          this.failed(error); // the others in the bucket still expire
        }
      }
    }
  };

  private push(slot: number): void {
    const heap = this.heap;
    let i = heap.push(slot) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= slot) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = slot;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const child = left + 1 < heap.length && heap[left + 1]! < heap[left]! ? left + 1 : left;
      if (heap[child]! >= last) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}

/** The process's wheel, shared by every hub's sessions. */
export const expiries = new ExpiryWheel();
