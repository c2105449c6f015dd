import { checkKnownOptions } from '../pkg/options-check.js';
import { deprecated } from './deprecated.js';
import type { HeartbeatOptions, OutboxOptions, ReconnectOptions } from './option-groups.js';

/**
 * The flat option names that the groups `reconnect`, `heartbeat` and `outbox` replace. Each is
 * still accepted and mapped onto its group's field, with a warning once per process; giving both
 * the flat name and the grouped field is a TypeError.
 */
export interface FlatOptions {
  /** @deprecated Use `reconnect: { delay }`. */
  reconnectDelay?: number;
  /** @deprecated Use `reconnect: { maxDelay }`. */
  maxReconnectDelay?: number;
  /** @deprecated Use `reconnect: { maxAttempts }`. */
  maxReconnectAttempts?: number;
  /** @deprecated Use `heartbeat: { interval }`. */
  heartbeatInterval?: number;
  /** @deprecated Use `heartbeat: { timeout }`. */
  heartbeatTimeout?: number;
  /** @deprecated Use `outbox: { maxSize }`. */
  maxQueuedPublishes?: number;
  /** @deprecated Use `outbox: { overflow }`. */
  queueOverflow?: 'drop-oldest' | 'reject';
  /** @deprecated Use `outbox: { maxAttempts }`. */
  maxPublishAttempts?: number;
  /** @deprecated Use `outbox: { storage }`. */
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
  /** @deprecated Use `outbox: { storageKey }`. */
  storageKey?: string;
}

interface Groups {
  reconnect: ReconnectOptions;
  heartbeat: HeartbeatOptions;
  outbox: OutboxOptions;
}

/** Each flat name's group and field. */
export const FLAT = {
  reconnectDelay: ['reconnect', 'delay'],
  maxReconnectDelay: ['reconnect', 'maxDelay'],
  maxReconnectAttempts: ['reconnect', 'maxAttempts'],
  heartbeatInterval: ['heartbeat', 'interval'],
  heartbeatTimeout: ['heartbeat', 'timeout'],
  maxQueuedPublishes: ['outbox', 'maxSize'],
  queueOverflow: ['outbox', 'overflow'],
  maxPublishAttempts: ['outbox', 'maxAttempts'],
  storage: ['outbox', 'storage'],
  storageKey: ['outbox', 'storageKey'],
} as const satisfies { [K in keyof FlatOptions]-?: readonly [keyof Groups, string] };

export const FLAT_NAMES = Object.keys(FLAT) as Array<keyof FlatOptions>;

const FIELDS: { [G in keyof Groups]: ReadonlyArray<keyof Groups[G]> } = {
  reconnect: ['delay', 'maxDelay', 'maxAttempts', 'restartWindow'],
  heartbeat: ['interval', 'timeout', 'allowance'],
  outbox: ['maxSize', 'overflow', 'maxAttempts', 'storage', 'storageKey'],
};

/** A group's given fields (undefined ones left out); throws a TypeError for a non-object or an unknown field. */
function fieldsOf<G extends keyof Groups>(group: G, value: unknown): Groups[G] {
  if (value === undefined || typeof value === 'boolean') return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const shape = `{ ${FIELDS[group].join(', ')} }`;
    throw new TypeError(`livehub: option ${group} must be ${group === 'reconnect' ? `true, false or ${shape}` : shape}, got ${String(value)}`);
  }
  checkKnownOptions(value, FIELDS[group] as readonly string[], `new LiveClient() option ${group}`);
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Groups[G];
}

/**
 * The groups as given, with the deprecated flat names moved into them (each warns once); whether
 * to reconnect at all (`reconnect: false`). Throws a TypeError naming both when a flat name and
 * its grouped field are both given.
 */
export function groupOptions(options: FlatOptions & { reconnect?: boolean | ReconnectOptions; heartbeat?: HeartbeatOptions; outbox?: OutboxOptions }): Groups & { reconnectEnabled: boolean } {
  const groups: Groups = {
    reconnect: fieldsOf('reconnect', options.reconnect),
    heartbeat: fieldsOf('heartbeat', options.heartbeat),
    outbox: fieldsOf('outbox', options.outbox),
  };
  for (const flat of FLAT_NAMES) {
    const value = options[flat];
    if (value === undefined) continue;
    const [group, field] = FLAT[flat];
    const fields = groups[group] as Record<string, unknown>;
    if (fields[field] !== undefined) {
      throw new TypeError(`livehub: options ${flat} and ${group}.${field} are the same option; give only ${group}.${field} (${flat} is deprecated)`);
    }
    deprecated(`the option ${flat}`, `${group}: { ${field} }`);
    fields[field] = value;
  }
  return { ...groups, reconnectEnabled: options.reconnect !== false };
}
