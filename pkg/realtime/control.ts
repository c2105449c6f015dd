import { CloseCode } from '../protocol/index.js';
import type { Reporter } from './report.js';
import { membersOf, type Members } from './members.js';

/** The server's own channel between nodes (disconnecting a user everywhere). */
export const CONTROL_CHANNEL = '#control';

/**
 * Acts on a message between nodes: `#control` (to every node: close a user's connections) or
 * `#node:<id>` (to this node: a command for one of its SSE streams, forwarded from another node).
 */
export function control(channel: string, payload: string, users: ReadonlyMap<string, Members>,
  forwarded: ((token: string, text: string) => void) | null, reporter: Reporter): void {
  try {
    const { type, data } = JSON.parse(payload) as { type: string; data: { userId?: string; reason?: string; token?: string; text?: string } };
    if (channel === CONTROL_CHANNEL && type === 'disconnect-user' && typeof data.userId === 'string') {
      for (const session of membersOf(users.get(data.userId))) session.close(CloseCode.Disconnected, String(data.reason ?? 'disconnected'));
    } else if (type === 'forward' && typeof data.token === 'string' && typeof data.text === 'string') {
      forwarded?.(data.token, data.text);
    }
  } catch (error) {
    reporter.error(error, 'bad_control_message');
  }
}
