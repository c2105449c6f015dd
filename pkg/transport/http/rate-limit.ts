/**
 * The HTTP API's rate limit: one token bucket per API key. A request costs one token per command it
 * carries (a batch of 50 publishes costs 50, a broadcast one per channel), so batching does not get
 * around the limit. Over it, the request is refused whole (429) and costs nothing.
 */
import { takeTokens, TOKEN, type Bucket } from '../../token-bucket.js';

export class KeyRateLimit {
  private readonly buckets = new Map<number, Bucket>();

  /**
   * `rate` tokens a second per key (Infinity: no limit), at most `burst` saved up. Each key starts
   * with a full bucket.
   */
  constructor(readonly rate: number, readonly burst: number, private readonly now: () => number = Date.now) {}

  /**
   * Takes `cost` tokens from the key's bucket. Returns 0 when taken, or the seconds (at least 1) to
   * wait until the bucket holds them; a cost above `burst` can never be taken and answers -1.
   */
  take(key: number, cost: number): number {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = { tokens: this.burst * TOKEN, refilledAt: now }));
    const wait = takeTokens(bucket, this.rate, this.burst, cost, now);
    if (wait === 0) return 0;
    return wait === Infinity ? -1 : Math.max(1, Math.ceil(wait / 1000));
  }

  /** Gives back tokens taken for a request that was then refused. */
  refund(key: number, tokens: number): void {
    const bucket = this.buckets.get(key);
    if (bucket) bucket.tokens = Math.min(this.burst * TOKEN, bucket.tokens + tokens * TOKEN);
  }
}
