import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { performance } from 'node:perf_hooks';
import { WriteScheduler } from '../../pkg/core/writes.js';

/** The time performance.now() answers, moved by the test (and by a session's flush: a flush that takes long). */
let now = 0;
/** The share of time the event loop was busy, as performance.eventLoopUtilization() answers it. */
let busy = 0.5;

/** A dirty session whose flush writes `writes` writes of `frames` frames and `bytes` bytes in all, taking `takes` ms. */
function session(counters: { writes: number; frames: number; bytes: number }, { writes = 1, frames = 1, bytes = 100, takes = 0 } = {}) {
  const flushed: Array<number | undefined> = [];
  return {
    dirty: true,
    flushed,
    flush(at?: number) {
      flushed.push(at);
      counters.writes += writes;
      counters.frames += frames;
      counters.bytes += bytes;
      now += takes;
    },
  };
}

function setup(maxDelay = 50) {
  // Running totals of a hub that has written before.
  const counters = { writes: 1000, frames: 5000, bytes: 900_000, evictions: 0 };
  const scheduler = new WriteScheduler(counters, () => maxDelay);
  const dirty = (options?: Parameters<typeof session>[1]) => {
    const s = session(counters, options);
    scheduler.dirty.push(s as never);
    return s;
  };
  return { scheduler, counters, dirty };
}

beforeEach(() => {
  now = 1000;
  busy = 0.5;
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  vi.spyOn(performance, 'eventLoopUtilization').mockImplementation(() => ({ idle: 1 - busy, active: busy, utilization: busy }));
});
afterEach(() => { vi.restoreAllMocks(); vi.useRealTimers(); });

/**
 * Ends one turn for each flush in `flushes` (a dirty session's writes, frames, bytes and ms), running
 * any hold out; returns, for each, whether its flush was held back.
 */
function holds(scheduler: WriteScheduler, dirty: ReturnType<typeof setup>['dirty'], flushes: Array<Parameters<typeof session>[1]>): boolean[] {
  return flushes.map((options) => {
    dirty(options);
    scheduler.turnEnded();
    const held = vi.getTimerCount() === 1;
    vi.runOnlyPendingTimers();
    return held;
  });
}

describe('WriteScheduler', () => {
  it('does nothing at the end of a turn with no session to write to', () => {
    const { scheduler } = setup();
    scheduler.turnEnded();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('flushes an idle hub\'s turn at once: every dirty session once, with the time, and no longer dirty', () => {
    const { scheduler, dirty } = setup();
    vi.setSystemTime(5_000_000);
    const [a, b] = [dirty(), dirty()];
    scheduler.turnEnded();
    expect(a.flushed).toHaveLength(1);
    expect(b.flushed).toEqual(a.flushed);
    expect(typeof a.flushed[0]).toBe('number');
    expect([a.dirty, b.dirty]).toEqual([false, false]);
    expect(scheduler.dirty).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('holds the next flush back for as long as a slow flush of small writes took', () => {
    const { scheduler, dirty } = setup(50);
    dirty({ takes: 20 });
    scheduler.turnEnded();
    const next = dirty();
    scheduler.turnEnded();
    expect(next.flushed).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    scheduler.turnEnded();
    expect(vi.getTimerCount()).toBe(1);
    now += 19;
    vi.advanceTimersByTime(19);
    expect(next.flushed).toEqual([]);
    now += 1;
    vi.advanceTimersByTime(1);
    expect(next.flushed).toHaveLength(1);
  });

  it('keeps the hold through a turn with nothing to write', () => {
    const { scheduler, dirty } = setup(50);
    dirty({ takes: 20 });
    scheduler.turnEnded();
    scheduler.turnEnded();
    const next = dirty();
    scheduler.turnEnded();
    expect(next.flushed).toEqual([]);
  });

  it('holds it back at most maxWriteDelay', () => {
    const { scheduler, dirty } = setup(5);
    dirty({ takes: 30 });
    scheduler.turnEnded();
    const next = dirty();
    scheduler.turnEnded();
    vi.advanceTimersByTime(4);
    expect(next.flushed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(next.flushed).toHaveLength(1);
  });

  it('flushes at once when less than a millisecond of the hold is left', () => {
    const { scheduler, dirty } = setup(50);
    dirty({ takes: 10 });
    scheduler.turnEnded();
    now += 9.5;
    const next = dirty();
    scheduler.turnEnded();
    expect(next.flushed).toHaveLength(1);
    const { scheduler: other, dirty: otherDirty } = setup(50);
    otherDirty({ takes: 10 });
    other.turnEnded();
    now += 9;
    const held = otherDirty();
    other.turnEnded();
    expect(held.flushed).toEqual([]);
  });

  it('does not hold back after a flush of full writes: 8 frames a write, or 16 KiB a write', () => {
    for (const full of [{ writes: 2, frames: 16, bytes: 100 }, { writes: 2, frames: 2, bytes: 32 * 1024 }]) {
      const { scheduler, dirty } = setup(50);
      dirty({ ...full, takes: 20 });
      scheduler.turnEnded();
      const next = dirty();
      scheduler.turnEnded();
      expect(next.flushed).toHaveLength(1);
    }
    for (const almost of [{ writes: 2, frames: 15, bytes: 100 }, { writes: 2, frames: 2, bytes: 32 * 1024 - 1 }]) {
      const { scheduler, dirty } = setup(50);
      dirty({ ...almost, takes: 20 });
      scheduler.turnEnded();
      const next = dirty();
      scheduler.turnEnded();
      expect(next.flushed).toEqual([]);
    }
  });

  it('flushes at once when asked (as hub.close does), cancelling the held flush', () => {
    const { scheduler, dirty } = setup(50);
    dirty({ takes: 20 });
    scheduler.turnEnded();
    const next = dirty();
    scheduler.turnEnded();
    expect(vi.getTimerCount()).toBe(1);
    scheduler.flush();
    expect(next.flushed).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
    const after = dirty();
    now += 100;
    scheduler.turnEnded();
    expect(after.flushed).toHaveLength(1);
  });

  it('keeps the hold after a held flush whose writes came out full, and lets go once they are twice full or full by bytes', () => {
    const { scheduler, dirty } = setup(50);
    expect(holds(scheduler, dirty, [
      { writes: 2, frames: 2, takes: 20 }, // short of full: the next is held
      { writes: 2, frames: 31, takes: 20 }, // held, and full (15.5 a write): the hold filled them, so it stays
      { writes: 2, frames: 32, takes: 20 }, // held, and twice full: full without the hold, so it goes
      { writes: 2, frames: 16, takes: 20 }, // not held, and full: the next is not held either
      { writes: 2, frames: 15, takes: 20 }, // not held, short of full: held again
      { writes: 2, frames: 2, bytes: 32 * 1024, takes: 20 }, // held, full by bytes: it goes
      {},
    ])).toEqual([false, true, true, false, false, true, false]);
  });

  it('holds twice as long as the flush took when the loop was busy the whole time since the last long flush, at most maxWriteDelay', () => {
    for (const [maxDelay, busyShare, hold] of [[100, 0.95, 40], [100, 0.94, 20], [30, 1, 30]] as const) {
      const { scheduler, dirty } = setup(maxDelay);
      dirty({ takes: 20 });
      scheduler.turnEnded();
      busy = busyShare;
      now += 5;
      dirty({ takes: 20 }); // a long flush after a busy stretch, held 15 ms more
      scheduler.turnEnded();
      now += 15;
      vi.advanceTimersByTime(15);
      const next = dirty();
      scheduler.turnEnded();
      now += hold - 1;
      vi.advanceTimersByTime(hold - 1);
      expect(next.flushed).toEqual([]);
      now += 1;
      vi.advanceTimersByTime(1);
      expect(next.flushed).toHaveLength(1);
      busy = 0.5;
    }
  });
});
