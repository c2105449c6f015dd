import { EVERYONE_CHANNEL, type HubMessage, type StreamPosition } from '../../pkg/protocol/index.js';
import type { MessageHandler } from '../events.js';
import type { LiveClient } from '../live-client.js';
import { DEFAULT_RELEASE_DELAY, DeferredCount } from './deferred.js';

/** What the channel registry needs of a client (a `LiveClient`, or anything shaped like one). */
export type ChannelClient = Pick<LiveClient, 'on' | 'off' | 'events'>;

export interface ListenOptions {
  /** Resume the channel from this position (e.g. from Inertia props), unless it is held already. */
  since?: StreamPosition;
}

interface Registration {
  readonly channel: string;
  readonly handler: MessageHandler<never>;
}

interface ChannelEntry {
  readonly count: DeferredCount;
  readonly registrations: Set<Registration>;
  since?: StreamPosition;
}

/**
 * The channels of one client, shared by every binding on it: handlers per channel, and one
 * subscription per channel held while any handler or `hold()` is on, released `releaseDelay` ms after
 * the last one goes (so an unmount followed by a mount sends neither an unsubscribe nor a subscribe).
 * Channel `"*"` handlers get every message the connection receives.
 */
export class Channels {
  private readonly entries = new Map<string, ChannelEntry>();

  constructor(readonly client: ChannelClient, private readonly releaseDelay = DEFAULT_RELEASE_DELAY) {}

  /** Holds `channel` subscribed until the returned release is called (idempotent). */
  hold(channel: string, options: ListenOptions = {}): () => void {
    const entry = this.entry(channel);
    if (options.since && entry.count.holders === 0) entry.since = options.since;
    return entry.count.hold();
  }

  /** Calls `handler(data, message)` for messages on `channel` and holds it; returns `off` (idempotent). */
  listen<T = unknown>(channel: string, handler: MessageHandler<T>, options: ListenOptions = {}): () => void {
    const registration: Registration = { channel, handler: handler as MessageHandler<never> };
    const entry = this.entry(channel);
    entry.registrations.add(registration);
    const release = this.hold(channel, options);
    return () => {
      if (!entry.registrations.delete(registration)) return;
      release();
    };
  }

  /** Removes one registration of `handler` on `channel` (the oldest), as `off()` from `listen` would. */
  off<T = unknown>(channel: string, handler: MessageHandler<T>): boolean {
    const entry = this.entries.get(channel);
    if (!entry) return false;
    for (const registration of entry.registrations) {
      if (registration.handler !== handler) continue;
      entry.registrations.delete(registration);
      entry.count.release();
      return true;
    }
    return false;
  }

  /** How many handlers and holds keep `channel` (the subscription may outlive them by `releaseDelay`). */
  holders(channel: string): number {
    return this.entries.get(channel)?.count.holders ?? 0;
  }

  /** Lets go at once of `channel` if nobody holds it (its deferred release, if pending). */
  flushChannel(channel: string): void {
    this.entries.get(channel)?.count.flush();
  }

  /** Lets go at once of every channel nobody holds (pending deferred releases). */
  flush(): void {
    for (const entry of this.entries.values()) entry.count.flush();
  }

  private entry(channel: string): ChannelEntry {
    let entry = this.entries.get(channel);
    if (entry) return entry;
    const registrations = new Set<Registration>();
    const dispatch = (data: unknown, message: HubMessage) => {
      for (const registration of [...registrations]) {
        if (registrations.has(registration)) (registration.handler as MessageHandler)(data, message);
      }
    };
    let stop: (() => void) | null = null;
    const created: ChannelEntry = {
      registrations,
      count: new DeferredCount(
        () => {
          stop = channel === EVERYONE_CHANNEL
            ? this.client.events.on('message', (message) => dispatch(message.data, message))
            : this.client.on(channel, dispatch, created.since ? { since: created.since } : {});
          created.since = undefined;
        },
        () => {
          stop?.();
          stop = null;
          if (this.entries.get(channel) === created && created.count.holders === 0) this.entries.delete(channel);
        },
        this.releaseDelay,
      ),
    };
    this.entries.set(channel, created);
    return created;
  }
}

/**
 * A handler for every message, or one per message type (`{ types: { message: add } }`); `events`
 * is the deprecated name of `types`.
 */
export type ChannelListener<T = unknown> =
  | MessageHandler<T>
  | { types: Record<string, MessageHandler<T>> }
  | {
    /** @deprecated Use `types`. */
    events: Record<string, MessageHandler<T>>;
  };

/** Calls the listener for a message: the handler, or the one named by the message's type. */
export function dispatchTo<T>(listener: ChannelListener<T>, data: T, message: HubMessage<T>): void {
  if (typeof listener === 'function') listener(data, message);
  else ('types' in listener ? listener.types : listener.events)[message.type]?.(data, message);
}

const registries = new WeakMap<object, Channels>();

/** The channel registry of `client`, made on first use and shared by every binding on it. */
export function channelsOf(client: ChannelClient): Channels {
  let channels = registries.get(client);
  if (!channels) registries.set(client, (channels = new Channels(client)));
  return channels;
}

/**
 * A binding's own share of the registry (a component, an effect scope): what it listens to and
 * holds, all let go by one `dispose()`. It can be used again after `dispose()`.
 */
export class ChannelSession {
  private readonly offs = new Set<() => void>();
  private readonly holds = new Map<string, Array<() => void>>();
  /** How many of this session's listeners are on each channel. */
  private readonly listening = new Map<string, number>();

  constructor(readonly channels: Channels) {}

  /** Whether this session listens to or holds `channel` (a `"*"` listener covers every channel). */
  covers(channel: string): boolean {
    return this.listening.has(channel) || this.holds.has(channel) || this.listening.has(EVERYONE_CHANNEL);
  }

  listen<T = unknown>(channel: string, handler: MessageHandler<T>, options: ListenOptions = {}): () => void {
    const stop = this.channels.listen(channel, handler, options);
    this.listening.set(channel, (this.listening.get(channel) ?? 0) + 1);
    const off = () => {
      if (!this.offs.delete(off)) return;
      const left = (this.listening.get(channel) ?? 1) - 1;
      if (left > 0) this.listening.set(channel, left);
      else this.listening.delete(channel);
      stop();
    };
    this.offs.add(off);
    return off;
  }

  off<T = unknown>(channel: string, handler: MessageHandler<T>): void {
    this.channels.off(channel, handler);
  }

  /** `subscribe(channel)`: holds it until a matching `unsubscribe(channel)` or `dispose()`. */
  subscribe(channel: string): void {
    const list = this.holds.get(channel) ?? [];
    list.push(this.channels.hold(channel));
    this.holds.set(channel, list);
  }

  /** Lets go of one `subscribe(channel)`; the unsubscribe goes out at once when nothing else holds it. */
  unsubscribe(channel: string): void {
    const list = this.holds.get(channel);
    list?.pop()?.();
    if (list?.length === 0) this.holds.delete(channel);
    this.channels.flushChannel(channel);
  }

  dispose(): void {
    for (const off of [...this.offs]) off();
    for (const list of this.holds.values()) for (const release of list) release();
    this.holds.clear();
  }
}
