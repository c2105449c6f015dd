/**
 * Limits that protect the hub from one client: connection caps, an inbound token bucket, and a scan
 * that refuses over-deep or over-wide JSON before `JSON.parse` builds it.
 */
import type { Duplex } from 'node:stream';
import { takeTokens, type Bucket } from '../token-bucket.js';

const kIp = Symbol('livehub.admittedIp');
const kUser = Symbol('livehub.admittedUser');
/** A socket holding an admission slot: where the slot was counted, so its close can count it out. */
type Slot = Duplex & { [kIp]?: string; [kUser]?: string };

/**
 * Connection caps: total, per IP and per user. Counts move at accept and at the socket's close,
 * outside the loop. One `close` listener serves every socket (a closure each would cost ~200 bytes).
 */
export class Admission {
  private total = 0;
  private readonly byIp = new Map<string, number>();
  private readonly byUser = new Map<string, number>();
  private readonly onClose: (this: Slot) => void;

  constructor(private readonly limits: { maxConnections: number; maxConnectionsPerIp: number; maxConnectionsPerUser: number }) {
    const admission = this;
    this.onClose = function (this: Slot) { admission.release(this); };
  }

  /** Why a new connection from `ip` would be refused (an HTTP status), or null to admit it. */
  refuseIp(ip: string): 429 | 503 | null {
    if (this.total >= this.limits.maxConnections) return 503;
    if ((this.byIp.get(ip) ?? 0) >= this.limits.maxConnectionsPerIp) return 429;
    return null;
  }

  refuseUser(userId: string): 429 | null {
    return (this.byUser.get(userId) ?? 0) >= this.limits.maxConnectionsPerUser ? 429 : null;
  }

  /** Counts the socket in, as a connection from `ip`, until it closes. */
  admit(socket: Duplex, ip: string): void {
    this.total++;
    bump(this.byIp, ip, 1);
    (socket as Slot)[kIp] = ip;
    socket.on('close', this.onClose);
  }

  /** Counts the (admitted) socket in as a connection of `userId`, until it closes. */
  admitUser(socket: Duplex, userId: string): void {
    bump(this.byUser, userId, 1);
    (socket as Slot)[kUser] = userId;
  }

  get connections(): number {
    return this.total;
  }

  private release(socket: Slot): void {
    const ip = socket[kIp];
    if (ip === undefined) return;
    socket[kIp] = undefined;
    this.total--;
    bump(this.byIp, ip, -1);
    const userId = socket[kUser];
    // Stryker disable next-line ConditionalExpression: bumping an absent key by -1 changes nothing
    if (userId !== undefined) bump(this.byUser, userId, -1);
  }
}

function bump(map: Map<string, number>, key: string, delta: number): void {
  const next = (map.get(key) ?? 0) + delta;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: a kept zero counts as no entry; only memory differs
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}

export { TOKEN, type Bucket } from '../token-bucket.js';

/** Takes one token from a bucket refilled at `rate` a second and holding at most `burst`; false when empty. */
export function takeToken(bucket: Bucket, rate: number, burst: number): boolean {
  return takeTokens(bucket, rate, burst, 1) === 0;
}
