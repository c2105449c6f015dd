import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter } from '../../pkg/hooks/backoff.js';

describe('backoffDelay', () => {
  it('doubles from the base, jittered within [half, whole) of each step', () => {
    for (const [attempt, step] of [[1, 100], [2, 200], [3, 400], [4, 800]] as const) {
      expect(backoffDelay(attempt, 100, 60_000, () => 0)).toBe(step / 2);
      expect(backoffDelay(attempt, 100, 60_000, () => 0.999)).toBe(Math.floor(step / 2 + 0.999 * step / 2));
    }
  });

  it('never waits longer than the maximum', () => {
    expect(backoffDelay(30, 500, 60_000, () => 0.999)).toBeLessThan(60_000);
    expect(backoffDelay(30, 500, 60_000, () => 0)).toBe(30_000);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');

  it('reads seconds and HTTP dates, in milliseconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sun, 01 Jun 2025 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sun, 01 Jun 2025 11:00:00 GMT', now)).toBe(0);
  });

  it('is null when absent or unreadable', () => {
    for (const value of [null, undefined, '', '-1', '1.5', 'soon', '12abc']) expect(parseRetryAfter(value, now)).toBeNull();
  });
});
