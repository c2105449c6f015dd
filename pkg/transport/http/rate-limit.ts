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

/** Wrong API keys an address may send at once, and how many more a second after that. */
const KEY_GUESSES_BURST = 10;
const KEY_GUESSES_PER_SECOND = 1;
/** Addresses remembered at most (the oldest is forgotten first), so a spread-out guesser costs bounded memory. */
const MAX_ADDRESSES = 10_000;

/**
 * Throttles wrong API keys per address: after a burst of 10, one guess a second; past that the
 * address gets 429 before its key is even looked at. A right key costs nothing here.
 */
export class KeyGuessThrottle {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Seconds until the address may try a key again (0: it may now). */
  wait(address: string): number {
    const bucket = this.buckets.get(address);
    if (!bucket) return 0;
    takeTokens(bucket, KEY_GUESSES_PER_SECOND, KEY_GUESSES_BURST, 0, this.now()); // refills only
    if (bucket.tokens >= TOKEN) return 0;
    // A millisecond refills `rate` thousandths of a token.
    return Math.max(1, Math.ceil((TOKEN - bucket.tokens) / KEY_GUESSES_PER_SECOND / 1000));
  }

  /** Counts a wrong (or missing) key from the address. */
  refused(address: string): void {
    let bucket = this.buckets.get(address);
    if (!bucket) {
      if (this.buckets.size >= MAX_ADDRESSES) this.buckets.delete(this.buckets.keys().next().value!);
      this.buckets.set(address, (bucket = { tokens: KEY_GUESSES_BURST * TOKEN, refilledAt: this.now() }));
    }
    takeTokens(bucket, KEY_GUESSES_PER_SECOND, KEY_GUESSES_BURST, 1, this.now());
  }
}
