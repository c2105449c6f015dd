import type { TransportEvents } from '../index.js';
import type { RetainedWanted } from './metadata.js';
import type { MqttSessionState } from './sessions.js';

/** A command an MQTT connection sent to the hub, waiting for its answer. */
export type Pending =
  | { kind: 'subscribe'; ack: Acknowledgement; index: number; channel: string; qos: 0 | 1; retainHandling: number }
  | { kind: 'unsubscribe'; ack: Acknowledgement; index: number; channel: string }
  | { kind: 'publish'; packetId: number; qos: number; topic: string }
  | { kind: 'resume'; channel: string; resumed: boolean }
  /** A topic filter with wildcards: a livehub pattern subscription (or, with `ack` null, one a resumed session makes again). */
  | { kind: 'pattern'; ack: Acknowledgement | null; index: number; pattern: string; qos: 0 | 1; unsubscribe: boolean };

/** The commands a connection sent to the hub, by the id their answers carry. */
export class PendingCommands {
  private readonly waiting = new Map<number, Pending>();
  private next = 1;

  /** Hands the session a command (its JSON object without the closing brace), waiting for its answer. */
  send(events: TransportEvents | null, pending: Pending, command: string): void {
    const id = this.next++;
    this.waiting.set(id, pending);
    events?.receive(`${command},"id":${id}}`);
  }

  /** The command an answer with this id is for (once), or undefined. */
  take(id: unknown): Pending | undefined {
    if (typeof id !== 'number') return undefined;
    const pending = this.waiting.get(id);
    this.waiting.delete(id);
    return pending;
  }
}

/** A SUBACK or UNSUBACK being put together: one code per topic. */
export interface Acknowledgement {
  cmd: 'suback' | 'unsuback';
  packetId: number;
  codes: number[];
  waiting: number;
  /** Subscriptions whose retained message is sent once the SUBACK is. */
  retained?: RetainedWanted[];
}

/**
 * The hub answered a pattern subscribe or unsubscribe (`code`: its error code, null when it was
 * done): the session's patterns follow, and the connection gets what to acknowledge: the granted QoS
 * (the granted QoS, or 0 for an unsubscribe done) or `'refused'` to answer with the refusal of
 * `code`; and, for a pattern a resumed session made again that the hub refuses now, what to log.
 */
export function patternAnswered(pending: Extract<Pending, { kind: 'pattern' }>, state: MqttSessionState, code: string | null, message: string, clientId: string): { grant: number | 'refused'; log?: string } {
  const ok = code === null || (code === 'already_subscribed' && !pending.unsubscribe);
  if (pending.unsubscribe) {
    if (ok) state.patterns.delete(pending.pattern);
    return { grant: ok ? 0 : 'refused' };
  }
  if (ok) {
    state.patterns.set(pending.pattern, pending.qos);
    return { grant: pending.qos };
  }
  if (pending.ack !== null) return { grant: 'refused' };
  state.patterns.delete(pending.pattern);
  return { grant: 'refused', log: `livehub: MQTT client ${JSON.stringify(clientId)} resumed its session, but its subscription to pattern ${JSON.stringify(pending.pattern)} was refused now (${code}: ${message}); it was dropped from the session` };
}
