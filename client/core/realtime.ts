import { checkKnownOptions } from '../../pkg/options-check.js';
import type { HubMessage } from '../../pkg/protocol/index.js';
import type { GapOptions } from './channel-state.js';
import { channelsOf, type ChannelClient } from './channels.js';
import { EventLog, type RealtimeEvent } from './event-log.js';

export interface RealtimeOptions<T = unknown> extends GapOptions {
  /** The channel (or channels) to listen on; `"*"` is every message the connection receives. */
  channel: string | readonly string[];
  /**
   * Only messages of these types are kept and passed to `onEvent`.
   * @default every type
   */
  types?: readonly string[];
  /**
   * The same as `types` (giving both is a TypeError).
   * @deprecated Use `types`.
   */
  events?: readonly string[];
  /** Called for each kept message (read on every message, so it may change without resubscribing). */
  onEvent?: (type: string, data: T, message: HubMessage<T>) => void;
  /**
   * Events kept in the log (the oldest go first).
   * @default 100
   */
  max?: number;
}

const KNOWN = ['channel', 'types', 'events', 'onEvent', 'onGap', 'max', 'client'] as const;

/** Throws a TypeError for an unknown option or a bad value (the bindings' `client` is allowed). */
export function checkRealtimeOptions(options: RealtimeOptions<never> & { client?: unknown }): void {
  if (options === null || typeof options !== 'object') throw new TypeError('livehub: useRealtime needs options { channel, types?, onEvent?, max? }');
  checkKnownOptions(options, KNOWN, 'useRealtime()');
  const channels = typeof options.channel === 'string' ? [options.channel] : options.channel;
  if (!Array.isArray(channels) || channels.length === 0 || !channels.every((c) => typeof c === 'string' && c.length > 0)) {
    throw new TypeError('livehub: useRealtime: channel must be a channel name or a non-empty array of them');
  }
  if (options.types !== undefined && options.events !== undefined) {
    throw new TypeError('livehub: useRealtime: options types and events are the same option; give only types (events is deprecated)');
  }
  const types = typesOf(options);
  if (types !== undefined && !(Array.isArray(types) && types.every((e) => typeof e === 'string'))) {
    throw new TypeError(`livehub: useRealtime: ${options.types !== undefined ? 'types' : 'events'} must be an array of message types`);
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw new TypeError('livehub: useRealtime: onEvent must be a function');
  if (options.onGap !== undefined && typeof options.onGap !== 'function') throw new TypeError('livehub: useRealtime: onGap must be a function');
}

/** The message types a feed keeps: `types`, or the deprecated `events`. */
function typesOf(options: Pick<RealtimeOptions<never>, 'types' | 'events'>): readonly string[] | undefined {
  return options.types ?? options.events;
}

/**
 * A generic feed, framework-free: the messages of some types on some channels, kept in a
 * capped log and passed to `onEvent`. `start(client)` listens (channels held through the shared
 * registry), the returned function stops; the log survives a stop and start (a remount).
 */
export class RealtimeFeed<T = unknown> {
  readonly log: EventLog<T>;
  private options: RealtimeOptions<T>;

  constructor(options: RealtimeOptions<T>) {
    checkRealtimeOptions(options as RealtimeOptions<never>);
    this.options = options;
    this.log = new EventLog<T>(options.max);
  }

  /** Takes new options (a new `onEvent`, say) without resubscribing; `channel` is read at `start`. */
  update(options: RealtimeOptions<T>): void {
    this.options = options;
  }

  /** A key naming what `start` subscribes to: a binding restarts the feed when it changes. */
  static key(options: Pick<RealtimeOptions<never>, 'channel' | 'types' | 'events'>): string {
    return JSON.stringify([options.channel, typesOf(options) ?? null]);
  }

  start(client: ChannelClient): () => void {
    const channels = typeof this.options.channel === 'string' ? [this.options.channel] : [...this.options.channel];
    const types = typesOf(this.options);
    const wanted = types ? new Set(types) : null;
    const registry = channelsOf(client);
    const offs = channels.map((channel) => registry.listen<T>(channel, (data, message) => {
      if (wanted && !wanted.has(message.type)) return;
      this.log.push(message);
      this.options.onEvent?.(message.type, data, message);
    }));
    return () => { for (const off of offs) off(); };
  }

  clear(): void {
    this.log.clear();
  }

  /** Whether `channel` is one of the feed's (`"*"`: every channel); read from the current options. */
  covers(channel: string): boolean {
    const channels = typeof this.options.channel === 'string' ? [this.options.channel] : this.options.channel;
    return channels.includes(channel) || channels.includes('*');
  }

  /** The newest `onGap` option. */
  onGap(): RealtimeOptions<T>['onGap'] {
    return this.options.onGap;
  }
}

export type { RealtimeEvent };
