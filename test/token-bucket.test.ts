import { describe, expect, it } from 'vitest';
import { TOKEN, takeTokens, type Bucket } from '../pkg/token-bucket.js';

const full = (burst: number, at = 0): Bucket => ({ tokens: burst * TOKEN, refilledAt: at });

describe('takeTokens', () => {
  it('lets exactly the burst through at once, then tells how long until the next token', () => {
    const bucket = full(3);
    expect([takeTokens(bucket, 1, 3, 1, 0), takeTokens(bucket, 1, 3, 1, 0), takeTokens(bucket, 1, 3, 1, 0)]).toEqual([0, 0, 0]);
    // 1 token a second: the next one is 1000 ms away, and nothing was taken by asking.
    expect(takeTokens(bucket, 1, 3, 1, 0)).toBe(1000);
    expect(bucket.tokens).toBe(0);
  });

  it('refills at the rate: after half the wait half a token is there and the rest is still owed', () => {
    const bucket = full(1);
    expect(takeTokens(bucket, 2, 1, 1, 0)).toBe(0);
    expect(takeTokens(bucket, 2, 1, 1, 250)).toBe(250);
    expect(bucket.tokens).toBe(500);
    expect(takeTokens(bucket, 2, 1, 1, 499)).toBe(1);
    expect(takeTokens(bucket, 2, 1, 1, 500)).toBe(0);
    expect(bucket.tokens).toBe(0);
    expect(bucket.refilledAt).toBe(500);
  });

  it('never holds more than the burst, however long it rested', () => {
    const bucket = full(2);
    expect(takeTokens(bucket, 10, 2, 1, 1_000_000)).toBe(0);
    expect(bucket.tokens).toBe(1 * TOKEN);
    expect(takeTokens(bucket, 10, 2, 1, 1_000_000)).toBe(0);
    expect(takeTokens(bucket, 10, 2, 1, 1_000_000)).toBe(100);
  });

  it('takes a cost of several tokens at once, or none of them', () => {
    const bucket = full(5);
    expect(takeTokens(bucket, 1, 5, 4, 0)).toBe(0);
    expect(bucket.tokens).toBe(1 * TOKEN);
    expect(takeTokens(bucket, 1, 5, 2, 0)).toBe(1000);
    expect(bucket.tokens).toBe(1 * TOKEN);
    expect(takeTokens(bucket, 1, 5, 1, 0)).toBe(0);
  });

  it('answers Infinity for a cost above the burst and 0 for an infinite rate', () => {
    expect(takeTokens(full(2), 1, 2, 3, 0)).toBe(Infinity);
    expect(takeTokens(full(2), 1, 2, 2, 0)).toBe(0);
    const empty: Bucket = { tokens: 0, refilledAt: 0 };
    expect(takeTokens(empty, Infinity, 1, 1, 0)).toBe(0);
    expect(empty.tokens).toBe(0);
  });
});
