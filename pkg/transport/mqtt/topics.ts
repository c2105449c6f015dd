/**
 * MQTT topics and livehub channels: the reversible mapping lives in the protocol module
 * (pkg/protocol/topics.ts), since pattern subscriptions of every transport use it too; here, what
 * the MQTT transport adds: reserved topics and which topic filters it refuses.
 */
import { patternError } from '../../protocol/index.js';
import { Reason } from './packets.js';

export { channelOf, topicOf } from '../../protocol/index.js';

/** Whether a topic is one MQTT reserves for the server (it starts with `$`, as `$SYS/…`). */
export function isReservedTopic(topic: string): boolean {
  return topic.startsWith('$');
}

/** Whether a topic filter holds a wildcard (`+` or `#`): a pattern subscription. */
export function isPattern(topic: string): boolean {
  return topic.includes('+') || topic.includes('#');
}

/** Why a topic filter cannot be subscribed to (an MQTT 5 reason), or null when it may name a channel or be a pattern. */
export function filterRefusal(topic: string): number | null {
  if (topic.startsWith('$share/')) return Reason.SharedNotSupported;
  if (isReservedTopic(topic)) return Reason.TopicFilterInvalid;
  if (isPattern(topic) && patternError(topic) !== null) return Reason.TopicFilterInvalid;
  return null;
}
