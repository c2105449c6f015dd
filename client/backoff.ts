/**
 * Full-jitter exponential backoff: after `failures` failures in a row, wait a random time in
 * [0, min(max, base * 2^failures)). Used for reconnects and for subscribe retries.
 */
export function backoffDelay(failures: number, base: number, max: number, random: () => number): number {
  const ceiling = Math.min(max, base * 2 ** failures);
  return Math.floor(random() * ceiling);
}

/**
 * The reconnect backoff of one client: full jitter over the failures in a row, except those within
 * `restartWindow` ms of a 1012 (service restart) close. The server said it is restarting, so the
 * refusals and unreachable attempts that follow are expected; each of them waits a random time in
 * [0, delay), and the client is back within about `delay` of a node taking connections again.
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
    if (Date.now() < this.restartUntil) return backoffDelay(0, delay, maxDelay, this.random);
    return backoffDelay(this.failures++, delay, maxDelay, this.random);
  }
}
