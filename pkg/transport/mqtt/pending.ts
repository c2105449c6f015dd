import type { ISubscribePacket, IUnsubscribePacket } from 'mqtt-packet';
import type { TransportEvents } from '../index.js';
import type { RetainedWanted } from './metadata.js';
import { Reason } from './packets.js';
import type { MqttSessionState } from './sessions.js';
import { channelOf, filterRefusal, isPattern } from './topics.js';

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

  /**
   * A SUBSCRIBE: one livehub subscribe per topic (a pattern's for a filter with wildcards); a topic
   * refused here is settled at once (`settle`).
   */
  subscribe(events: TransportEvents | null, packet: ISubscribePacket, settle: (ack: Acknowledgement, index: number, code: number) => void): void {
    const ack: Acknowledgement = { cmd: 'suback', packetId: packet.messageId ?? 0, codes: [], waiting: packet.subscriptions.length };
    packet.subscriptions.forEach(({ topic, qos, rh }, index) => {
      const refusal = filterRefusal(topic);
      if (refusal === null && isPattern(topic)) return this.pattern(events, ack, index, topic, qos === 0 ? 0 : 1, false);
      const channel = refusal === null ? channelOf(topic) : null;
      if (channel === null) return settle(ack, index, refusal ?? Reason.TopicFilterInvalid);
      this.send(events, { kind: 'subscribe', ack, index, channel, qos: qos === 0 ? 0 : 1, retainHandling: rh ?? 0 }, `{"type":"subscribe","channel":${JSON.stringify(channel)}`);
    });
  }

  /** An UNSUBSCRIBE: one livehub unsubscribe per topic, as `subscribe` does. */
  unsubscribe(events: TransportEvents | null, packet: IUnsubscribePacket, settle: (ack: Acknowledgement, index: number, code: number) => void): void {
    const ack: Acknowledgement = { cmd: 'unsuback', packetId: packet.messageId ?? 0, codes: [], waiting: packet.unsubscriptions.length };
    packet.unsubscriptions.forEach((topic, index) => {
      if (filterRefusal(topic) === null && isPattern(topic)) return this.pattern(events, ack, index, topic, 0, true);
      const channel = filterRefusal(topic) === null ? channelOf(topic) : null;
      if (channel === null) return settle(ack, index, Reason.TopicFilterInvalid);
      this.send(events, { kind: 'unsubscribe', ack, index, channel }, `{"type":"unsubscribe","channel":${JSON.stringify(channel)}`);
    });
  }

  /** A topic filter with wildcards, subscribed or unsubscribed as a livehub pattern (live delivery only). */
  pattern(events: TransportEvents | null, ack: Acknowledgement | null, index: number, pattern: string, qos: 0 | 1, unsubscribe: boolean): void {
    this.send(events, { kind: 'pattern', ack, index, pattern, qos, unsubscribe }, `{"type":"${unsubscribe ? 'unsubscribe' : 'subscribe'}","pattern":${JSON.stringify(pattern)}`);
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
