/**
 * Full-jitter exponential backoff: after `failures` failures in a row, wait a random time in
 * [0, min(max, base * 2^failures)). Used for reconnects and for subscribe retries.
 */
export function backoffDelay(failures: number, base: number, max: number, random: () => number): number {
  const ceiling = Math.min(max, base * 2 ** failures);
  return Math.floor(random() * ceiling);
}
