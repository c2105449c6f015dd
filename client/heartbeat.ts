/**
 * The client's watch on an open connection: after `interval` ms without traffic it pings, and if
 * nothing arrives within `timeout` ms after that, the connection is dead.
 */
export class Heartbeat {
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdogTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly interval: number,
    private readonly timeout: number,
    private readonly ping: () => void,
    private readonly dead: () => void,
  ) {}

  /** Traffic arrived (or the connection opened): start counting silence again. */
  arm(): void {
    this.stop();
    this.idleTimer = setTimeout(() => this.probe(), this.interval);
  }

  /** Pings now and expects an answer within `timeout`. */
  probe(): void {
    this.stop();
    this.ping();
    this.watchdogTimer = setTimeout(() => { this.watchdogTimer = null; this.dead(); }, this.timeout);
  }

  stop(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.watchdogTimer) clearTimeout(this.watchdogTimer);
    this.idleTimer = this.watchdogTimer = null;
  }
}
