import type { ResolvedHubOptions } from './options.js';
import type { Session } from './session.js';

/**
 * One session's keep-alive, run by the sweep wheel when its earliest timer is due: terminates a peer
 * silent for longer than `pongWait`, pings it every `pingPeriod`, and writes a heartbeat to a
 * livehub client's connection that has had nothing written to it for `heartbeatPeriod`. Returns when
 * the session is next due (Infinity once it is gone).
 */
export function keepAlive(session: Session, now: number, options: Pick<ResolvedHubOptions, 'pongWait' | 'pingPeriod' | 'heartbeatPeriod'>): number {
  if (session.state !== 'open') return Infinity;
  const { pongWait, pingPeriod, heartbeatPeriod } = options;
  if (now - session.lastSeen > pongWait) {
    session.terminate();
    return Infinity;
  }
  if (now - session.lastPing >= pingPeriod) {
    session.lastPing = now;
    session.ping();
  }
  let heartbeat = session.lastWrite + heartbeatPeriod;
  if (session.fullProtocol && heartbeat <= now) {
    // Not written when frames wait: they show the link alive when they go. Either way, a period on.
    session.heartbeat(now);
    heartbeat = now + heartbeatPeriod;
  }
  return Math.min(session.lastSeen + pongWait + 1, session.lastPing + pingPeriod, session.fullProtocol ? heartbeat : Infinity);
}
