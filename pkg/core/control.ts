import { CloseCode } from '../protocol/index.js';
import type { Reporter } from './report.js';
import { membersOf, type Members } from './members.js';

/** The server's own channel between nodes (disconnecting a user everywhere). */
export const CONTROL_CHANNEL = '#control';

/** The channel of messages to one node (`TransportHost.sendToNode`). */
export function nodeChannel(node: string): string {
  return `#node:${node}`;
}

/**
 * Acts on a message between nodes: `#control` (to every node: close a user's connections) or
 * `#node:<id>` (to this node: a transport's message under its topic, such as a command for one of
 * its SSE streams sent from another node).
 */
export function control(channel: string, payload: string, users: ReadonlyMap<string, Members>,
  topics: ReadonlyMap<string, (data: string) => void>, reporter: Reporter): void {
  try {
    const { type, data } = JSON.parse(payload) as { type: string; data: unknown };
    if (channel === CONTROL_CHANNEL) {
      const { userId, reason } = (data ?? {}) as { userId?: unknown; reason?: unknown };
      if (type === 'disconnect-user' && typeof userId === 'string') {
        for (const session of membersOf(users.get(userId))) session.close(CloseCode.Disconnected, String(reason ?? 'disconnected'));
      }
    } else if (typeof data === 'string') {
      topics.get(type)?.(data);
    }
  } catch (error) {
    reporter.error(error, 'bad_control_message');
  }
}
