/**
 * How long a webhook batch waits before its next attempt: exponential backoff with jitter, or the
 * endpoint's own Retry-After, both bounded by `maxRetryDelay`.
 */

/**
 * The wait before retry number `attempt` (1 for the first retry): a random time in
 * [d/2, d), d = min(max, base·2^(attempt-1)). Half of it is fixed, so waits still grow; the other half
 * is random, so many nodes retrying the same endpoint spread out.
 */
export function backoffDelay(attempt: number, base: number, max: number, random: () => number = Math.random): number {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.floor(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * A Retry-After header in milliseconds: delta-seconds (`120`) or an HTTP date. `null` when absent or
 * unreadable (the backoff applies then); a date in the past is 0.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return null;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
