/**
 * MQTT topics and livehub channels: one reversible mapping, shared by the MQTT transport and by
 * pattern subscriptions on every transport (patterns are MQTT topic filters over these topics).
 *
 * A topic is its channel's name, with the four things an MQTT topic name cannot hold as they are
 * written as percent escapes: `+` is `%2B`, `#` is `%23`, the broadcast channel `*` is `%2A`, and a
 * `$` at the start is `%24` (MQTT reserves topics that start with `$`). So channel `sensors/kitchen`
 * is topic `sensors/kitchen`, and channel `a+b` is topic `a%2Bb`. `%` is not a channel character, so
 * nothing else is escaped and every channel has exactly one topic.
 *
 * A topic maps back only when it is the topic of some channel: its characters are channel characters
 * or those escapes, and no escape stands where the channel would have its character as it is
 * (`a%24b` is not a topic: channel `a$b` is topic `a$b`). Other topics (spaces, other `%`, non-ASCII,
 * longer than 255 characters once unescaped) have no channel: a device is refused, never guessed for.
 */
import { isValidChannel } from './names.js';

const ESCAPES: Record<string, string> = { '%2B': '+', '%23': '#', '%2A': '*', '%24': '$' };

/** The MQTT topic of a channel. */
export function topicOf(channel: string): string {
  if (channel === '*') return '%2A';
  let topic = channel.replace(/[+#]/g, (c) => (c === '+' ? '%2B' : '%23'));
  if (topic.startsWith('$')) topic = `%24${topic.slice(1)}`;
  return topic;
}

/** The channel a topic names, or null when it names none (see the mapping above). */
export function channelOf(topic: string): string | null {
  if (topic.length === 0 || topic.length > 3 * 255) return null;
  const channel = topic.replace(/%[0-9A-Fa-f]{2}/g, (escape) => ESCAPES[escape] ?? '\u0000');
  if (!isValidChannel(channel)) return null;
  return topicOf(channel) === topic ? channel : null;
}
