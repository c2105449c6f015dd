import { clock } from '../clock.js';

/** What the wheel keeps on each item: the slot it waits in (0: none). */
export interface Swept {
  sweepSlot: number;
}

/**
 * The hub's timers for its connections (pings, heartbeats, pong deadlines) on one wheel: each
 * connection waits in the slot of the step its next timer falls in, and one timer, at the start of
 * each step while any connection waits, visits the slots that came due. A visit does what is due and
 * says when the connection is next due, so a connection costs one visit per period, not one per
 * turn of a sweep over every connection; and whatever the periods, nothing is late by more than a
 * step (a sweep every few seconds would make a 25 s ping come at 32 s).
 *
 * Slots are numbered by time (`clock()` ms / step), so a visit may put a connection in any later
 * slot; one emptied by `remove` stays until its step comes.
 */
export class SweepWheel<T extends Swept> {
  private readonly slots = new Map<number, Set<T>>();
  /** The first slot not yet visited. */
  private next: number;
  private timer: NodeJS.Timeout | null = null;
  private waiting = 0;
  private stopped = false;

  /**
   * `visit(item, now)` does what is due for `item` and returns when it is next due (`clock()` ms;
   * Infinity: never again). It is called at that time or at most a step after.
   */
  constructor(
    private readonly step: number,
    private readonly visit: (item: T, now: number) => number,
    /** An error a visit threw (the item is visited again a step later, the others go on). */
    private readonly failed: (error: unknown) => void,
  ) {
    this.next = Math.floor(clock() / step) + 1;
  }

  /** Items waiting (for tests and stats). */
  get size(): number {
    return this.waiting;
  }

  /** Visits `item` at `due` (`clock()` ms), or in the next step if that has passed; Infinity: never. */
  schedule(item: T, due: number): void {
    this.remove(item);
    if (this.stopped || !(due < Infinity)) return;
    // After a pause with nothing waiting, the slots up to now have nothing to visit.
    if (this.waiting === 0 && this.timer === null) this.next = Math.max(this.next, Math.floor(clock() / this.step) + 1);
    const slot = Math.max(Math.ceil(due / this.step), this.next);
    let bucket = this.slots.get(slot);
    if (bucket === undefined) this.slots.set(slot, (bucket = new Set()));
    bucket.add(item);
    item.sweepSlot = slot;
    if (this.waiting++ === 0 && this.timer === null) this.arm();
  }

  /** Forgets `item` (its connection closed). */
  remove(item: T): void {
    const slot = item.sweepSlot;
    if (slot === 0) return;
    item.sweepSlot = 0;
    if (this.slots.get(slot)?.delete(item)) this.waiting--;
  }

  /** Stops for good: nothing is visited any more (the hub closes). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.slots.clear();
    this.waiting = 0;
  }

  /** Arms the timer for the start of the next slot to visit, so that a visit is at most a step late. */
  private arm(): void {
    this.timer = setTimeout(this.turn, Math.max(0, this.next * this.step - clock()));
    this.timer.unref();
  }

  /** Visits every slot that came due; arms the timer again while anything waits. */
  private readonly turn = (): void => {
    this.timer = null;
    const now = clock();
    const last = Math.floor(now / this.step);
    while (this.next <= last) {
      // Moved on first: what a visit reschedules goes to a slot not visited yet.
      const slot = this.next++;
      const bucket = this.slots.get(slot);
      if (bucket === undefined) continue;
      this.slots.delete(slot);
      this.waiting -= bucket.size;
      for (const item of bucket) {
        if (item.sweepSlot !== slot) continue;
        item.sweepSlot = 0;
        let due: number;
        try {
          due = this.visit(item, now);
        } catch (error) {
          this.failed(error);
          due = now + this.step;
        }
        this.schedule(item, due);
      }
    }
    if (this.waiting > 0 && this.timer === null && !this.stopped) this.arm();
  };
}
