import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EXPIRY_STEP, ExpiryWheel } from '../../pkg/core/expiry.js';

/** The expiry wheel: every connection's credential expiry on one timer, by the second. */

const T0 = Date.UTC(2026, 10, 29, 12, 0, 0);
beforeEach(() => { vi.useFakeTimers(); vi.setSystemTime(T0); });
afterEach(() => { vi.useRealTimers(); });

function item(name: string, log: string[]) {
  return { name, expire: () => { log.push(`${name}@${Date.now() - T0}`); } };
}

describe('the expiry wheel', () => {
  it('expires each item in the second its expiry falls in, earliest first, never before it', async () => {
    const log: string[] = [];
    const wheel = new ExpiryWheel();
    wheel.add(item('b', log), T0 + 2500);
    wheel.add(item('a', log), T0 + 1000);
    wheel.add(item('c', log), T0 + 2900);
    await vi.advanceTimersByTimeAsync(999);
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toEqual(['a@1000']);
    await vi.advanceTimersByTimeAsync(1999);
    expect(log).toEqual(['a@1000']);
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toEqual(['a@1000', 'b@3000', 'c@3000']);
    expect(wheel.size).toBe(0);
  });

  it('forgets a removed item, and goes on to later buckets when the earliest was emptied', async () => {
    const log: string[] = [];
    const wheel = new ExpiryWheel();
    const gone = item('gone', log);
    const slot = wheel.add(gone, T0 + 1000);
    wheel.add(item('later', log), T0 + 5000);
    wheel.remove(gone, slot);
    expect(wheel.size).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(log).toEqual(['later@5000']);
  });

  it('expires an item whose expiry has passed on the next microtask', async () => {
    const log: string[] = [];
    new ExpiryWheel().add(item('late', log), T0 - 1);
    expect(log).toEqual([]);
    await Promise.resolve();
    expect(log).toEqual(['late@0']);
  });

  it('reaches an expiry beyond setTimeout\'s 24.8 days by arming again', async () => {
    const log: string[] = [];
    const wheel = new ExpiryWheel();
    const days = 30 * 24 * 3600 * 1000;
    wheel.add(item('month', log), T0 + days);
    await vi.advanceTimersByTimeAsync(days - EXPIRY_STEP);
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(EXPIRY_STEP);
    expect(log).toEqual([`month@${days}`]);
  });

  it('keeps order across many buckets added out of order, and an earlier one added after arming', async () => {
    const log: string[] = [];
    const wheel = new ExpiryWheel();
    const seconds = [7, 3, 9, 8, 2, 6, 4, 5, 10];
    for (const s of seconds) wheel.add(item(String(s), log), T0 + s * 1000);
    wheel.add(item('1', log), T0 + 500); // earlier than the bucket armed for: in the second that ends at 1 s
    await vi.advanceTimersByTimeAsync(11_000);
    expect(log).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s) => `${s}@${s * 1000}`));
  });

  it('expires the rest of a bucket when one item throws, and hands the error on', async () => {
    const log: string[] = [];
    const errors: unknown[] = [];
    const wheel = new ExpiryWheel((error) => errors.push(error));
    wheel.add(item('a', log), T0 + 1000);
    wheel.add({ expire: () => { throw new Error('close failed'); } }, T0 + 1000);
    wheel.add(item('c', log), T0 + 1000);
    wheel.add(item('d', log), T0 + 2000);
    await vi.advanceTimersByTimeAsync(2000);
    expect(log).toEqual(['a@1000', 'c@1000', 'd@2000']);
    expect(errors).toEqual([new Error('close failed')]);
  });
});
