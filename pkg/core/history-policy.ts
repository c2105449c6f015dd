import type { HistoryPolicy } from '../engine/engine.js';
import { DEFAULTS } from './defaults.js';

/** The `history` option: a default policy, and per-channel rules (the first that matches wins). */
export type HistoryOption = Partial<HistoryPolicy> & { channels?: Array<{ match: string | RegExp } & Partial<HistoryPolicy>> };
/** A resolved per-channel rule. */
export type HistoryRule = { test: (channel: string) => boolean } & HistoryPolicy;

function policyOf(value: Partial<HistoryPolicy>, base: HistoryPolicy, where: string): HistoryPolicy {
  const { size = base.size, ttl = base.ttl } = value;
  if (!Number.isInteger(size) || size < 0) throw new TypeError(`livehub: ${where}.size must be a whole number`);
  if (!Number.isInteger(ttl) || ttl <= 0) throw new TypeError(`livehub: ${where}.ttl must be a positive integer`);
  return { size, ttl };
}

export function resolveHistory(history: HistoryOption = {}): { base: HistoryPolicy; rules: HistoryRule[] } {
  if (history === null || typeof history !== 'object') throw new TypeError('livehub: option history must be an object');
  const base = policyOf(history, { size: DEFAULTS.historySize, ttl: DEFAULTS.historyTtl }, 'history');
  const rules = (history.channels ?? []).map((rule, i) => {
    const { match } = rule;
    let test: (channel: string) => boolean;
    if (match instanceof RegExp) test = (channel) => match.test(channel);
    else if (typeof match === 'string' && match.endsWith('*')) test = (channel) => channel.startsWith(match.slice(0, -1));
    else if (typeof match === 'string') test = (channel) => channel === match;
    else throw new TypeError(`livehub: history.channels[${i}].match must be a string or a RegExp`);
    return { test, ...policyOf(rule, base, `history.channels[${i}]`) };
  });
  return { base, rules };
}

/** The history policy of a channel: the first matching rule, else the default. */
export function historyPolicy(options: { readonly history: HistoryPolicy; readonly historyRules: readonly HistoryRule[] }, channel: string): HistoryPolicy {
  for (const rule of options.historyRules) if (rule.test(channel)) return rule;
  return options.history;
}
