import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { clock } from '../clock.js';
import type { HubCounters, Session } from './session.js';

/** Frames, or bytes, per write from which a flush counts as full: the next one is not held back. */
const FULL_WRITE = 8;
const FULL_WRITE_BYTES = 16 * 1024;
/**
 * Frames per write from which a held flush's writes are full even without the hold (about half of
 * what they held came while the last flush ran): the hold is released. Below it, a held flush that
 * came out full keeps the hold, since the hold is what filled its writes.
 */
const OVERFULL_WRITE = 2 * FULL_WRITE;
/**
 * The share of time the event loop was busy between two flushes from which the hub counts as
 * saturated (work was waiting for it the whole time): the next flush is then held twice as long as
 * this one took, so writes take at most about a third of its time.
 */
const SATURATED = 0.95;

/**
 * When the loop's queued frames go out. Every session with frames queued since the last flush is
 * on `dirty` (the loop pushes it there once, setting `session.dirty`); a flush gives each one write.
 * An idle or lightly loaded hub flushes at the end of every turn. A flush that took long (many
 * sessions to write to: the hub is under load) and wrote few, small frames per write holds the next
 * one back for as long, up to `maxWriteDelay` (twice as long when the loop was saturated: see
 * SATURATED), so the hub spends at most about half its time in writes and what arrives meanwhile
 * reaches each connection in the same write: fewer, fuller writes exactly when writes are what
 * costs. Writes already full (a broadcast's turn gives each connection many frames; a large message
 * costs its bytes more than its syscall) gain nothing from waiting. A held flush whose writes came
 * out full keeps the hold: without it the next flush would take as long for a turn's few frames a
 * write (many small channels at saturation); it lets go once a held flush's writes carry twice as
 * much (OVERFULL_WRITE), or are full by bytes.
 */
export class WriteScheduler {
  dirty: Session[] = [];
  private flushAt = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Whether the last flush holds this one back (by a millisecond or more: a shorter hold is none, see turnEnded). */
  private holding = false;
  /** The event loop's use when the last flush that took a millisecond or more ended, or null. */
  private lastLong: EventLoopUtilization | null = null;

  constructor(private readonly counters: HubCounters, private readonly maxDelay: () => number) {}

  /** The end of a loop turn: flushes now, or once the hold after the last flush is over. */
  turnEnded(): void {
    if (this.dirty.length === 0 || this.timer !== null) return;
    const wait = this.flushAt - performance.now();
    if (wait < 1) this.flush();
    else this.timer = setTimeout(this.flush, wait);
  }

  /** Writes every dirty session's frames now (also what `hub.close()` calls before closing). */
  readonly flush = (): void => {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const dirty = this.dirty;
    this.dirty = [];
    const { counters } = this;
    const { writes, frames, bytes } = counters;
    const began = performance.now();
    const saturated = this.lastLong !== null && performance.eventLoopUtilization(this.lastLong).utilization >= SATURATED;
    const now = clock();
    for (const session of dirty) {
      session.dirty = false;
      session.flush(now);
    }
    const ended = performance.now();
    const written = counters.writes - writes;
    const framesWritten = counters.frames - frames;
    const release = counters.bytes - bytes >= FULL_WRITE_BYTES * written ||
      framesWritten >= (this.holding ? OVERFULL_WRITE : FULL_WRITE) * written;
    const took = ended - began;
    const hold = release ? 0 : Math.min(saturated ? 2 * took : took, this.maxDelay());
    this.holding = hold >= 1;
    this.flushAt = ended + hold;
    this.lastLong = took >= 1 ? performance.eventLoopUtilization() : null;
  };
}
