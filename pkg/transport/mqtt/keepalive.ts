/**
 * A device's keepalive (MQTT 3.1.1, 3.1.2.10): the server closes a connection it heard nothing from
 * for one and a half keepalives. One timer, re-armed for the time left since the last packet, so
 * packets cost nothing but a timestamp.
 */
export class KeepaliveWatch {
  private timer: NodeJS.Timeout | null = null;

  /** Starts watching: `lastPacket()` says when the device last sent anything; `silent()` runs once when it was silent too long. */
  constructor(keepaliveSeconds: number, private readonly lastPacket: () => number, private readonly silent: () => void) {
    const limit = keepaliveSeconds * 1500;
    const check = () => {
      const quiet = Date.now() - this.lastPacket();
      if (quiet < limit) {
        this.timer = setTimeout(check, limit - quiet + 5).unref();
        return;
      }
      this.timer = null;
      this.silent();
    };
    this.timer = setTimeout(check, limit).unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
