/**
 * Full-jitter exponential backoff: after `failures` failures in a row, wait a random time in
 * [0, min(max, base * 2^failures)). Used for reconnects and for subscribe retries.
 */
export function backoffDelay(failures: number, base: number, max: number, random: () => number): number {
  const ceiling = Math.min(max, base * 2 ** failures);
  return Math.floor(random() * ceiling);
}

/** Within a restart window the backoff's ceiling stops growing at `delay` × this (2 s by default). */
export const RESTART_CEILING = 4;

/**
 * The reconnect backoff of one client: full jitter over the failures in a row. Within `restartWindow`
 * ms of a 1012 (service restart) close the server said it is restarting, so the refusals and
 * unreachable attempts that follow are expected: the ceiling stops growing at `delay` × RESTART_CEILING,
 * and the client is back within about that long of a node taking connections again, while the
 * clients of one node still spread their attempts over that time (all at once would overflow the new
 * process's listen queue, and dropped SYNs are retried by the kernel only after a second or more).
 */
export class ReconnectBackoff {
  private failures = 0;
  private restartUntil = 0;

  constructor(private readonly options: { delay: number; maxDelay: number; restartWindow: number }, private readonly random: () => number) {}

  /** The server closed with 1012: the window of expected failures starts now. */
  serverRestarting(): void {
    this.restartUntil = Date.now() + this.options.restartWindow;
  }

  /** A connection opened: the next failure starts from the first step again. */
  reset(): void {
    this.failures = 0;
    this.restartUntil = 0;
  }

  /** The wait, in ms, before the next attempt after a failure (or a close). */
  next(): number {
    const { delay, maxDelay } = this.options;
    const ceiling = Date.now() < this.restartUntil ? Math.min(maxDelay, delay * RESTART_CEILING) : maxDelay;
    return backoffDelay(this.failures++, delay, ceiling, this.random);
  }
}
