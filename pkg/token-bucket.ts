/**
 * Token buckets, one way for every rate limit in livehub (a connection's inbound messages, an API
 * key's commands). A bucket's state is kept by its owner (a session, a key's entry) rather than in an
 * object of its own: `tokens` in thousandths of a token, so the count stays a small integer, and
 * `refilledAt` on the owner's clock.
 */
import { clock } from './clock.js';

/** Thousandths of a token: start a bucket at `burst * TOKEN`. */
export const TOKEN = 1000;

export interface Bucket {
  tokens: number;
  refilledAt: number;
}

/**
 * Refills the bucket at `rate` tokens a second up to `burst`, then takes `cost` tokens. Returns 0
 * when they were taken, or the milliseconds until the bucket would hold them (nothing is taken);
 * Infinity when `cost` is more than `burst` (it can never pass).
 */
export function takeTokens(bucket: Bucket, rate: number, burst: number, cost: number, now: number = clock()): number {
  if (rate === Infinity) return 0;
  if (cost > burst) return Infinity;
  // A millisecond refills `rate` thousandths of a token.
  const full = burst * TOKEN;
  const tokens = bucket.tokens + (now - bucket.refilledAt) * rate;
  // Stryker disable next-line EqualityOperator: at tokens === full both branches give the same number
  bucket.tokens = tokens > full ? full : tokens; // not Math.min, whose answer may be a heap number
  bucket.refilledAt = now;
  const wanted = cost * TOKEN;
  if (bucket.tokens >= wanted) {
    bucket.tokens -= wanted;
    return 0;
  }
  return Math.ceil((wanted - bucket.tokens) / rate);
}
