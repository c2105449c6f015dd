import { clock } from '../clock.js';
import type { HubCounters, Session } from './session.js';

/** Frames, or bytes, per write from which a flush counts as full: the next one is not held back. */
const FULL_WRITE = 8;
const FULL_WRITE_BYTES = 16 * 1024;

/**
 * When the loop's queued frames go out. Every session with frames queued since the last flush is
 * on `dirty` (the loop pushes it there once, setting `session.dirty`); a flush gives each one write.
 * An idle or lightly loaded hub flushes at the end of every turn. A flush that took long (many
 * sessions to write to: the hub is under load) and wrote few, small frames per write holds the next
 * one back for as long, up to `maxWriteDelay`, so the hub spends at most about half its time in
 * writes and what arrives meanwhile reaches each connection in the same write: fewer, fuller writes
 * exactly when writes are what costs. Writes already full (a broadcast's turn gives each connection
 * many frames; a large message costs its bytes more than its syscall) gain nothing from waiting.
 */
export class WriteScheduler {
  dirty: Session[] = [];
  private flushAt = 0;
  private timer: NodeJS.Timeout | null = null;

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
    const now = clock();
    for (const session of dirty) {
      session.dirty = false;
      session.flush(now);
    }
    const ended = performance.now();
    const written = counters.writes - writes;
    const full = counters.frames - frames >= FULL_WRITE * written || counters.bytes - bytes >= FULL_WRITE_BYTES * written;
    this.flushAt = full ? ended : ended + Math.min(ended - began, this.maxDelay());
  };
}
