/**
 * Pattern subscriptions: MQTT topic filters over the channel <-> topic mapping (topics.ts), the same
 * for MQTT devices and for WebSocket and SSE clients.
 *
 * A pattern is levels separated by `/`. `+` is a whole level and matches any one level; `#` is a
 * whole level, the last one, and matches the rest: any number of levels, none included
 * (`sensors/#` matches `sensors` and `sensors/a/b`). Other levels are written as in the channel's
 * topic (`%2B` for a `+` in a channel name). A pattern has at least one wildcard (without one it is a
 * channel: subscribe to the channel) and is at most 765 characters.
 *
 * What a pattern never reaches, whatever the channel policy says: the broadcast channel `*` (every
 * connection gets it anyway), the hub's own channels (`#…`), personal channels (`user:…`, which a
 * connection is in by itself) and presence channels (`presence-…`, whose members join one by one).
 * A pattern whose first level is a wildcard does not reach `private-…` channels either: only a
 * pattern that names the `private-…` first level does, when the `authorize` hook allows it.
 */
import { topicOf } from './topics.js';

/** The longest pattern (as a topic: 255 channel characters, each escaped at most). */
export const MAX_PATTERN_LENGTH = 765;

/** Channels no pattern reaches (see above), by prefix. */
const NEVER = ['#', 'user:', 'presence-'];

/** Why `value` is not a pattern (a sentence), or null when it is one. */
export function patternError(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0) return 'a pattern must be a non-empty string';
  if (value.length > MAX_PATTERN_LENGTH) return `a pattern is at most ${MAX_PATTERN_LENGTH} characters`;
  const levels = value.split('/');
  let wildcards = 0;
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level === '+') { wildcards++; continue; }
    if (level === '#') {
      if (i !== levels.length - 1) return '"#" must be the last level of a pattern';
      wildcards++;
      continue;
    }
    if (level.includes('+') || level.includes('#')) return `"+" and "#" must stand alone in a level ("${level}" mixes them with other characters; write a "+" or "#" of a channel name as %2B or %23)`;
    if ((i === 0 && level.startsWith('$')) || !/^(?:[A-Za-z0-9_\-:.@=,!~$]|%2B|%23|%24|%2A)*$/.test(level)) {
      return `level "${level}" is not part of any channel's topic (channel characters, with "+" "#" and a leading "$" escaped as %2B %23 %24)`;
    }
  }
  if (wildcards === 0) return 'a pattern needs a "+" or "#" level; without one, subscribe to the channel';
  return null;
}

/** Whether a valid pattern's first level is a wildcard. */
export function startsWithWildcard(pattern: string): boolean {
  return pattern === '#' || pattern.startsWith('+/') || pattern === '+' || pattern.startsWith('#/');
}

/** Whether patterns may reach `channel` at all, and whether only through a literal first level. */
export function patternReach(channel: string): 'never' | 'named' | 'any' {
  if (channel === '*') return 'never';
  for (const prefix of NEVER) if (channel.startsWith(prefix)) return 'never';
  return channel.startsWith('private-') ? 'named' : 'any';
}

/**
 * Whether a valid pattern matches a channel: level by level over the channel's topic, with the rules
 * of what a pattern never reaches above. The hub matches with a trie (pkg/core/topic-trie.ts); this
 * is the same test for one pattern.
 */
export function matchesPattern(pattern: string, channel: string): boolean {
  const reach = patternReach(channel);
  if (reach === 'never' || (reach === 'named' && startsWithWildcard(pattern))) return false;
  const levels = topicOf(channel).split('/');
  const filter = pattern.split('/');
  for (let i = 0; i < filter.length; i++) {
    const level = filter[i]!;
    if (level === '#') return true;
    if (i >= levels.length) return false;
    if (level !== '+' && level !== levels[i]) return false;
  }
  return filter.length === levels.length;
}
