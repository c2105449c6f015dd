/** How long a released channel or client is kept before it is let go, in ms. */
export const DEFAULT_RELEASE_DELAY = 100;

/**
 * A count of holders with a deferred end: `acquire()` starts the thing on the first holder,
 * `release()` stops it `delay` ms after the last one, unless a holder came back meanwhile. A remount
 * (React StrictMode, a page swap keeping the same channel) therefore costs the server nothing.
 */
export class DeferredCount {
  private count = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private active = false;

  constructor(private readonly start: () => void, private readonly stop: () => void, private readonly delay: number) {}

  get holders(): number {
    return this.count;
  }

  acquire(): void {
    this.count++;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.active) {
      this.active = true;
      this.start();
    }
  }

  /** `acquire()`, returning the matching `release` (calling it more than once releases once). */
  hold(): () => void {
    this.acquire();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.release();
    };
  }

  release(): void {
    if (this.count === 0) return;
    this.count--;
    if (this.count > 0 || this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.delay);
  }

  /** Stops now if nobody holds it (or at once, with `force`). */
  flush(force = false): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (force) this.count = 0;
    if (this.count > 0 || !this.active) return;
    this.active = false;
    this.stop();
  }
}
