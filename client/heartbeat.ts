/**
 * The client's watch on an open connection. A livehub hub announces a heartbeat period when the
 * connection opens (`{"type":"connected","heartbeat":4000}`) and writes a heartbeat whenever it has
 * written nothing else for that long, so traffic comes at least that often. When nothing has come for
 * the period plus `allowance`, the link is stale (shown in the connection's state) and probed with a
 * ping; traffic clears it, and a probe unanswered within `timeout` means the link is dead. A server
 * that announces no period sends nothing on an idle link: the client pings after `interval` of
 * silence and drops the connection when nothing answers within `timeout`.
 */

/** The heartbeat options as resolved: `interval` and `timeout` null when they follow the server. */
export interface HeartbeatTiming {
  /** Silence after which the client pings (null: the announced period plus `allowance`, or `IDLE_PING.interval`). */
  interval: number | null;
  /** How long a ping may go unanswered (null: `PROBE_TIMEOUT` with an announced period, else `IDLE_PING.timeout`). */
  timeout: number | null;
  /** How much later than the announced period traffic may come before the link is stale. */
  allowance: number;
}

/** Without a period from the server: a ping after 25 s of silence, and 10 s for its answer. */
export const IDLE_PING = { interval: 25_000, timeout: 10_000 } as const;
/** How much later than the server's period traffic may come (its timers, a busy event loop, the network). */
export const HEARTBEAT_ALLOWANCE = 1_000;
/**
 * How long the probe of a stale link may go unanswered. With the hub's default period (4 s), a dead
 * link is dropped at most 4 + 1 + 3 = 8 s after the last frame.
 */
export const PROBE_TIMEOUT = 3_000;

export interface HeartbeatHooks {
  /** Sends a ping (the server answers `pong`). */
  ping(): void;
  /** The probe went unanswered: the connection is dead. */
  dead(): void;
  /** The link became stale (an expected heartbeat is late) or live again. */
  stale(stale: boolean): void;
}

export class Heartbeat {
  /** True while an expected heartbeat is late and traffic has not resumed. */
  stale = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** When traffic last arrived (Date.now()). */
  private last = 0;
  /** The server's announced heartbeat period (0: none). */
  private period = 0;
  private probing = false;

  constructor(private readonly timing: HeartbeatTiming, private readonly hooks: HeartbeatHooks) {}

  /** The connection opened: watch it as one whose server announced no period (yet). */
  start(): void {
    this.stop();
    this.period = 0;
    this.last = Date.now();
    this.schedule();
  }

  /** The server announced its heartbeat period (ms): expect traffic that often from now on. */
  announce(period: number): void {
    this.period = period;
    this.last = Date.now();
    this.clearTimer();
    this.probing = false;
    this.setStale(false);
    this.schedule();
  }

  /** Traffic arrived. Cheap: the armed timer looks at `last` when it fires. */
  traffic(): void {
    this.last = Date.now();
    if (!this.probing && !this.stale) return;
    this.probing = false;
    this.setStale(false);
    this.clearTimer();
    this.schedule();
  }

  /** Pings now and expects an answer within the timeout (the page became visible, say). */
  probe(): void {
    this.clearTimer();
    this.probing = true;
    this.hooks.ping();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.probing = false;
      this.hooks.dead();
    }, this.timeout);
  }

  /** The connection is gone: no timer, not stale. */
  stop(): void {
    this.clearTimer();
    this.probing = false;
    this.setStale(false);
  }

  private get interval(): number {
    return this.timing.interval ?? (this.period > 0 ? this.period + this.timing.allowance : IDLE_PING.interval);
  }

  private get timeout(): number {
    return this.timing.timeout ?? (this.period > 0 ? PROBE_TIMEOUT : IDLE_PING.timeout);
  }

  /** Silence after which the link is stale: the announced period plus the allowance (Infinity: no period). */
  private get staleAfter(): number {
    return this.period > 0 ? this.period + this.timing.allowance : Infinity;
  }

  /** Arms the timer for the next of: the link going stale, the ping after `interval` of silence. */
  private schedule(): void {
    const at = Math.min(this.stale ? Infinity : this.staleAfter, this.interval);
    this.timer = setTimeout(this.check, Math.max(0, this.last + at - Date.now()));
  }

  private readonly check = (): void => {
    this.timer = null;
    const silence = Date.now() - this.last;
    if (!this.stale && silence >= this.staleAfter) this.setStale(true);
    if (silence >= this.interval) return this.probe();
    this.schedule();
  };

  private setStale(stale: boolean): void {
    if (this.stale === stale) return;
    this.stale = stale;
    this.hooks.stale(stale);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
