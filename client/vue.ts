import { computed, readonly, shallowRef, toValue, watch, type MaybeRefOrGetter, type Ref, type ShallowRef } from '@vue/runtime-core';
import type { StreamPosition } from '../pkg/protocol/index.js';
import { ChannelStateStore, checkChannelOptions, type ChannelStatus, type Gap, type GapOptions } from './core/channel-state.js';
import { ChannelSession, channelsOf, dispatchTo, type ChannelListener } from './core/channels.js';
import { ConnectionStore, type ConnectionState } from './core/connection.js';
import type { RealtimeEvent } from './core/event-log.js';
import { presenceOf } from './core/presence.js';
import { RealtimeFeed, type RealtimeOptions } from './core/realtime.js';
import type {
  ChannelActions, ChannelState, ConnectionShape, LiveUpdateActions, LiveUpdateState, Nothing, PresenceActions, PresenceState, RealtimeActions, RealtimeState,
} from './core/shapes.js';
import type { ReadableStore } from './core/store.js';
import { TransportStore } from './core/transport-store.js';
import { LiveClient } from './live-client.js';
import type { Inbox, InboxOptions, InboxState } from './core/inbox.js';
import type { LiveClientOptions } from './options.js';
import type { DirectHandler, DirectListeners } from './request.js';
import type { GapEvent } from './errors.js';
import { createLivehub, findClient, onEnd, requireClient } from './vue-context.js';

export { createLivehub };

/**
 * livehub/vue: composables over the framework-free client core (client/core). Each works in a
 * component's setup, in any `effectScope()` (it then ends with the scope), or anywhere with an
 * explicit `{ client }`; none warns outside a component.
 */

export interface UseLiveUpdateOptions extends LiveClientOptions {
  /**
   * Use this client instead of opening a connection of its own (it is then not closed on dispose).
   * @default the client provided by `app.use(createLivehub(...))`, else a new one for `url`
   */
  client?: LiveClient;
}

/** Vue's form of a hook's return (see client/core/shapes.ts): each state field as a read-only ref, and the actions. */
export type VueShape<State, Actions> = { readonly [K in keyof State]: Readonly<Ref<State[K]>> } & Actions;

/** Names `useLiveUpdate` kept from before the bindings shared one shape; Vue only, and they never warn. */
export interface LiveUpdateAliases {
  /**
   * The underlying client.
   * @deprecated Use `getClient()`, which every binding has.
   */
  readonly client: LiveClient;
  /**
   * The same as `disconnect()`.
   * @deprecated Use `disconnect()`.
   */
  close(): void;
  /**
   * Listens to direct messages of `type`; returns the function that stops it.
   * @deprecated Use `direct.on(type, handler)`.
   */
  onMessage<T = unknown>(type: string, handler: DirectHandler<T>): () => void;
}

/** `useLiveUpdate()`: the shared shape (client/core/shapes.ts) with refs, plus the Vue-only deprecated aliases. */
export interface UseLiveUpdateReturn extends VueShape<LiveUpdateState, LiveUpdateActions>, LiveUpdateAliases {}

/** A store as a shallowRef, kept current while the scope lives. */
function fromStore<T>(store: ReadableStore<T>): Readonly<ShallowRef<T>> {
  const value = shallowRef(store.getSnapshot());
  onEnd(store.subscribe(() => { value.value = store.getSnapshot(); }));
  return value;
}

/** A hook's `{ error, gap }` as refs, kept current while the scope lives, with its store. */
function channelState(client: LiveClient, covers: (channel: string) => boolean, onGap?: () => GapOptions['onGap']) {
  const store = new ChannelStateStore(client, covers, onGap);
  const state = fromStore<ChannelStatus>(store);
  return { store, error: computed(() => state.value.error), gap: computed(() => state.value.gap) };
}

/** The connection's state: `{ status, connected, stale, error }` as refs (one store shared by them). */
export function useConnectionState(options: { client?: LiveClient } = {}): VueShape<ConnectionShape, Nothing> {
  const client = requireClient(options.client, 'useConnectionState');
  const store = new ConnectionStore(() => client);
  const state = shallowRef<ConnectionState>(store.getSnapshot());
  onEnd(store.subscribe(() => { state.value = store.getSnapshot(); }));
  state.value = store.getSnapshot();
  return {
    status: computed(() => state.value.status),
    connected: computed(() => state.value.connected),
    stale: computed(() => state.value.stale),
    error: computed(() => state.value.error),
  };
}

/** Direct-message listening that ends with the scope. */
function scopedDirect(client: LiveClient): DirectListeners {
  return {
    on: (type, handler) => {
      const off = client.direct.on(type, handler);
      onEnd(off);
      return off;
    },
    off: (type, handler) => client.direct.off(type, handler),
  };
}

/**
 * Live updates in a component: `const { connected, on } = useLiveUpdate('/ws')`. Handlers, the
 * subscriptions they hold and (when it opened one) the connection end with the component's scope.
 */
export function useLiveUpdate(url?: string, options: UseLiveUpdateOptions = {}): UseLiveUpdateReturn {
  const shared = options.client ?? (url === undefined ? findClient(undefined) : null);
  if (!shared && url === undefined) throw new TypeError('livehub: useLiveUpdate needs a url or a provided client');
  const { client: _ignored, ...clientOptions } = options;
  const client = shared ?? new LiveClient(url!, clientOptions);
  const { status, connected, stale, error } = useConnectionState({ client });
  const session = new ChannelSession(channelsOf(client));
  const { store: gaps, gap } = channelState(client, (channel) => session.covers(channel));
  onEnd(() => {
    session.dispose();
    if (!shared) client.dispose();
  });
  const direct = scopedDirect(client);
  return {
    connected: readonly(connected),
    stale: readonly(stale),
    status: readonly(status),
    error: readonly(error) as Readonly<Ref<Error | null>>,
    transport: fromStore(new TransportStore(() => client)),
    gap,
    clearGap: gaps.clearGap,
    on: (channel, handler, onOptions = {}) => session.listen(channel, handler, onOptions),
    off: (channel, handler) => session.off(channel, handler),
    subscribe: (channel) => session.subscribe(channel),
    unsubscribe: (channel) => session.unsubscribe(channel),
    publish: (channel, type, data, publishOptions) => (publishOptions ? client.publish(channel, type, data, publishOptions) : client.publish(channel, type, data)),
    request: ((type: string, data?: unknown, requestOptions?: object) => client.request(type, data, requestOptions as never)) as LiveClient['request'],
    send: ((type: string, data?: unknown, sendOptions?: object) => client.send(type, data, sendOptions as never)) as LiveClient['send'],
    direct,
    disconnect: () => client.close(),
    reconnect: () => client.connect(),
    getClient: () => client,
    client,
    close: () => client.close(),
    onMessage: direct.on,
  };
}

/** `useChannel()`'s options (the same in livehub/react). */
export interface UseChannelOptions extends GapOptions {
  /** @default the client provided by `app.use(createLivehub(...))` */
  client?: LiveClient;
  /** Resume the channel from this position (e.g. from Inertia props): nothing published after it is missed. */
  since?: StreamPosition;
}

/** `useChannel()`: the shared shape (client/core/shapes.ts) with refs. */
export type UseChannelReturn = VueShape<ChannelState, ChannelActions>;

/**
 * `useChannel('orders', (order, message) => …)` or `useChannel('chat', { types: { message: add } })`:
 * listens while the scope lives. `channel` may be a ref or getter (null: nothing); a new name moves
 * the listener. Returns the channel's `error` and `gap` as refs, `clearGap()`, and `publish(type, data)`
 * on that channel.
 */
export function useChannel<T = unknown>(
  channel: MaybeRefOrGetter<string | null | undefined>,
  listener: ChannelListener<T>,
  options: UseChannelOptions = {},
): UseChannelReturn {
  checkChannelOptions(options);
  const client = requireClient(options.client, 'useChannel');
  const channels = channelsOf(client);
  const { store, error, gap } = channelState(client, (name) => name === toValue(channel), () => options.onGap);
  let off: (() => void) | null = null;
  const listen = (name: string | null | undefined) => {
    off?.();
    store.reset();
    off = name ? channels.listen<T>(name, (data, message) => dispatchTo(listener, data, message), options.since ? { since: options.since } : {}) : null;
  };
  const stopWatch = typeof channel === 'string' ? null : watch(() => toValue(channel), listen);
  listen(toValue(channel));
  onEnd(() => { stopWatch?.(); off?.(); });
  return {
    error,
    gap,
    clearGap: store.clearGap,
    publish: (type: string, data?: unknown) => {
      const name = toValue(channel);
      if (!name) return Promise.reject(new TypeError('livehub: useChannel has no channel to publish on'));
      return client.publish(name, type, data).then(() => store.published(name));
    },
  };
}

/** `usePresence()`: the shared shape (client/core/shapes.ts) with refs. */
export type UsePresenceReturn = VueShape<PresenceState, PresenceActions>;

/**
 * Who is online in a `presence-…` channel: `const { members, setStatus } = usePresence('presence-room')`.
 * Subscribes while the component lives; uses the provided client (see `createLivehub`) unless given one.
 */
export function usePresence(channel: string, options: { client?: LiveClient } = {}): UsePresenceReturn {
  const client = requireClient(options.client, 'usePresence');
  const store = presenceOf(client, channel);
  const { error } = channelState(client, (name) => name === channel);
  onEnd(store.acquire());
  const members = fromStore(store);
  return {
    members,
    count: computed(() => members.value.length),
    error,
    setStatus: (status) => store.setStatus(status),
  };
}

/** `useInbox()`: the user stream's state as refs, and `acknowledge`. */
export type UseInboxReturn = VueShape<InboxState, Pick<Inbox, 'acknowledge'>>;

/**
 * The signed-in user's acknowledged stream (see `client.inbox()`): `const { unread, acknowledge } =
 * useInbox({ onMessage })`. `unread` is the same on every device of the user; the inbox ends with the scope.
 */
export function useInbox<T = unknown>(options: InboxOptions<T> & { client?: LiveClient } = {}): UseInboxReturn {
  const { client: explicit, ...inboxOptions } = options;
  const client = requireClient(explicit, 'useInbox');
  const inbox = client.inbox<T>(inboxOptions);
  onEnd(() => inbox.close());
  const state = fromStore<InboxState>(inbox);
  return {
    channel: computed(() => state.value.channel),
    epoch: computed(() => state.value.epoch),
    head: computed(() => state.value.head),
    acknowledged: computed(() => state.value.acknowledged),
    unread: computed(() => state.value.unread),
    error: computed(() => state.value.error),
    acknowledge: (offset?: number) => inbox.acknowledge(offset),
  };
}

/** `useRealtime()`: the shared shape (client/core/shapes.ts) with refs; `events` is a shallowRef. */
export type UseRealtimeReturn<T> = VueShape<RealtimeState<T>, RealtimeActions>;

/**
 * A generic feed: `useRealtime({ channel: 'user:42', types: ['message_new'], onEvent })`.
 * Build specialised ones on it: `const useMessages = (id) => useRealtime({ channel: \`user:${id}\`, types: [...] })`.
 */
export function useRealtime<T = unknown>(options: RealtimeOptions<T> & { client?: LiveClient }): UseRealtimeReturn<T> {
  const { client: explicit, ...feedOptions } = options ?? ({} as typeof options);
  const feed = new RealtimeFeed<T>(feedOptions);
  const client = requireClient(explicit, 'useRealtime');
  const { store, error, gap } = channelState(client, (channel) => feed.covers(channel), () => feed.onGap());
  onEnd(feed.start(client));
  const { connected } = useConnectionState({ client });
  return {
    events: fromStore(feed.log),
    connected,
    isConnected: connected,
    error,
    gap,
    clearGap: store.clearGap,
    reconnect: () => client.connect(),
    disconnect: () => client.close(),
    clearEvents: () => feed.clear(),
  };
}

export type { ChannelListener, ConnectionState, Gap, GapEvent, InboxOptions, InboxState, RealtimeEvent, RealtimeOptions };
