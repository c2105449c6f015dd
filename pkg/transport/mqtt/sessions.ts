/**
 * Persistent MQTT sessions (MQTT 3.1.1 clean session false, MQTT 5 session expiry): what a device's
 * session keeps between its connections (session-store.ts keeps it while the device is away).
 *
 * A session keeps no messages of its own while the device is away: it keeps, per subscribed channel,
 * the stream position of the last message handed to the device, and the hub's history replays what
 * came after it on the next connection (a subscribe with `since`), on any node sharing the engine. It
 * also keeps its patterns (live only: subscribed again, nothing replayed) and the QoS 1 deliveries
 * the device had not acknowledged, sent again with DUP set.
 */
import { matchesPattern } from '../../protocol/index.js';
import type { Reporter } from '../index.js';
import type { MqttVersion, PublishParts } from './packets.js';

/** A subscription of a session: its granted QoS and the position of the last message handed on. */
export interface Subscription {
  qos: 0 | 1;
  /** The offset of the last message handed to the device, and its epoch; unset until the hub answered. */
  offset?: number;
  epoch?: string;
}

/** What a device's session holds, across its connections while it is kept. */
export class MqttSessionState {
  readonly subscriptions = new Map<string, Subscription>();
  /** Pattern subscriptions (topic filters with wildcards), each with its granted QoS: live delivery only. */
  readonly patterns = new Map<string, 0 | 1>();
  /**
   * QoS 1 deliveries not yet acknowledged, by packet identifier: each the packet sent, whose own
   * identifier field may be left unset (the message's shared packet, qos1.ts): the key is the identifier.
   */
  readonly inflight = new Map<number, Buffer>();
  /** QoS 1 deliveries waiting for room under the receive maximum. */
  held: PublishParts[] = [];
  nextPacketId = 0;

  constructor(readonly clientId: string, readonly userId: string | null, readonly version: MqttVersion) {}

  /** A subscribe the hub answered: the subscription, its QoS, and where its stream stands. */
  subscribed(channel: string, qos: 0 | 1, reply: { offset?: number; epoch?: string }): void {
    const subscription = this.subscriptions.get(channel);
    if (subscription === undefined) this.subscriptions.set(channel, { qos, offset: reply.offset, epoch: reply.epoch });
    else subscription.qos = qos;
    if (subscription !== undefined && reply.epoch !== undefined) this.positioned(channel, reply);
  }

  /**
   * The hub's answer to a subscription the session resubscribed: keeps its position, or drops a
   * subscription the hub now refuses. Returns what to log (a refusal, or a gap when `resumed` and the
   * history no longer held what the device missed), or null.
   */
  resubscribed(channel: string, resumed: boolean, reply: { type: string; offset?: number; epoch?: string; recovered?: boolean; code?: string; message?: string }): { code: string; message: string } | null {
    const who = `livehub: MQTT client ${JSON.stringify(this.clientId)} resumed its session, but`;
    if (reply.type === 'error') {
      if (reply.code === 'already_subscribed') return null;
      this.subscriptions.delete(channel);
      return { code: 'mqtt_session_refused', message: `${who} its subscription to ${JSON.stringify(channel)} was refused now (${reply.code}: ${reply.message}); the subscription was dropped from the session` };
    }
    // Recovered, the replay that follows runs up to the position the answer names, and moves the
    // subscription there message by message; otherwise the subscription goes on from that position.
    if (!resumed || reply.recovered !== true) this.positioned(channel, reply);
    if (!resumed || reply.recovered !== false) return null;
    return { code: 'mqtt_session_gap', message: `${who} the messages of ${JSON.stringify(channel)} it missed are no longer all in the channel's history (it was away longer than the history keeps, or the history was lost); it continues from the newest message: raise the hub's history size or ttl for this channel if devices are away that long` };
  }

  /** The QoS a channel's messages go out at: its subscription's, or the highest of the patterns matching it. */
  qosOf(channel: string, subscription: Subscription | undefined): 0 | 1 {
    if (subscription !== undefined) return subscription.qos;
    for (const [pattern, qos] of this.patterns) if (qos === 1 && matchesPattern(pattern, channel)) return 1;
    return 0;
  }

  /** The position the device stands at in a channel's stream (a `subscribed` or a `reset`). */
  positioned(channel: string, position: { offset?: number; epoch?: string }): void {
    const subscription = this.subscriptions.get(channel);
    if (subscription === undefined || position.offset === undefined || position.epoch === undefined) return;
    subscription.offset = position.offset;
    subscription.epoch = position.epoch;
  }
}

/** A session a new connection may resume, or null (logged) when it is someone else's or of another version. */
export function resumable(state: MqttSessionState, userId: string | null, version: MqttVersion, reporter: Reporter): MqttSessionState | null {
  if (state.userId !== userId) {
    reporter.report('warn', 'mqtt_session_not_resumed',
      `livehub: MQTT client ${JSON.stringify(state.clientId)} connected as ${userId === null ? 'an anonymous device' : `user ${JSON.stringify(userId)}`}, but its stored session belongs to ${state.userId === null ? 'an anonymous device' : `user ${JSON.stringify(state.userId)}`}; the session was ended and a clean one started (a client id names one device: give each its own)`);
    return null;
  }
  if (state.version !== version) {
    reporter.report('info', 'mqtt_session_not_resumed',
      `livehub: MQTT client ${JSON.stringify(state.clientId)} connected with MQTT ${version === 5 ? '5' : '3.1.1'}, its stored session was made with MQTT ${state.version === 5 ? '5' : '3.1.1'}; a clean session was started (subscribe again)`);
    return null;
  }
  return state;
}
