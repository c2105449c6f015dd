/**
 * Limits that protect the hub from one client: connection caps, an inbound token bucket, and a scan
 * that refuses over-deep or over-wide JSON before `JSON.parse` builds it.
 */

/** Connection caps: total, per IP and per user. Counts move at accept and close, outside the loop. */
export class Admission {
  private total = 0;
  private readonly byIp = new Map<string, number>();
  private readonly byUser = new Map<string, number>();

  constructor(private readonly limits: { maxConnections: number; maxConnectionsPerIp: number; maxConnectionsPerUser: number }) {}

  /** Why a new connection from `ip` would be refused (an HTTP status), or null to admit it. */
  refuseIp(ip: string): 429 | 503 | null {
    if (this.total >= this.limits.maxConnections) return 503;
    if ((this.byIp.get(ip) ?? 0) >= this.limits.maxConnectionsPerIp) return 429;
    return null;
  }

  refuseUser(userId: string): 429 | null {
    return (this.byUser.get(userId) ?? 0) >= this.limits.maxConnectionsPerUser ? 429 : null;
  }

  /** Counts a connection from `ip` in; returns the function that counts it out (idempotent). */
  admit(ip: string): () => void {
    this.total++;
    bump(this.byIp, ip, 1);
    return once(() => {
      this.total--;
      bump(this.byIp, ip, -1);
    });
  }

  /** Counts a connection of `userId` in; returns the function that counts it out (idempotent). */
  admitUser(userId: string): () => void {
    bump(this.byUser, userId, 1);
    return once(() => bump(this.byUser, userId, -1));
  }

  get connections(): number {
    return this.total;
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

function bump(map: Map<string, number>, key: string, delta: number): void {
  const next = (map.get(key) ?? 0) + delta;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}

/** A token bucket: `rate` tokens a second, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly rate: number, private readonly burst: number) {
    this.tokens = burst;
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    if (this.rate === Infinity) return true;
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export type JsonShape = 'ok' | 'too_deep' | 'too_many_keys';

/**
 * Scans JSON text for nesting depth and number of object keys, without building anything. Runs before
 * `JSON.parse`, so 20,000 nested arrays in a 40 KB message are refused cheaply and never reach a
 * recursive `JSON.stringify`. Malformed text passes through to `JSON.parse`, which reports it.
 */
export function scanJson(text: string, maxDepth: number, maxKeys: number): JsonShape {
  let depth = 0;
  let keys = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return 'too_deep';
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x3a && ++keys > maxKeys) return 'too_many_keys';
  }
  return 'ok';
}
