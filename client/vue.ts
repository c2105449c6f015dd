import {
  computed, getCurrentScope, hasInjectionContext, inject, onScopeDispose, readonly, shallowRef, toValue, watch,
  type App, type InjectionKey, type MaybeRefOrGetter, type Ref, type ShallowRef,
} from '@vue/runtime-core';
import type { PresenceMember, PresenceStatus, StreamPosition } from '../pkg/protocol.js';
import { ChannelSession, channelsOf, dispatchTo, type ChannelListener } from './core/channels.js';
import { ConnectionStore, type ConnectionState } from './core/connection.js';
import type { RealtimeEvent } from './core/event-log.js';
import { presenceOf } from './core/presence.js';
import { RealtimeFeed, type RealtimeOptions } from './core/realtime.js';
import type { ReadableStore } from './core/store.js';
import type { LiveStatus, MessageHandler } from './events.js';
import { LiveClient } from './live-client.js';
import type { LiveClientOptions } from './options.js';

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

export interface UseLiveUpdateReturn {
  /** True while the connection is open. */
  connected: Readonly<Ref<boolean>>;
  /** `idle`, `connecting`, `open`, `reconnecting` or `closed`. */
  status: Readonly<Ref<LiveStatus>>;
  /**
   * The last error (a `LiveError` with a `code`): the connection cannot be made (`connect_failed`,
   * `connect_timeout`), a refused subscribe (also a `subscribeError` event on `client`), an error
   * frame, a terminal close. Null again once the connection opens.
   */
  error: Readonly<Ref<Error | null>>;
  /**
   * Calls `handler(data, message)` for messages on `channel` (subscribing while any is on); returns
   * `off`. `since` resumes from a server position (e.g. Inertia props) so nothing is missed or doubled.
   * `on('*', handler)`, as in the Go original, gets every message the connection receives, on any
   * channel, and the `"*"` broadcast.
   */
  on<T = unknown>(channel: string, handler: MessageHandler<T>, options?: { since?: StreamPosition }): () => void;
  off<T = unknown>(channel: string, handler: MessageHandler<T>): void;
  subscribe(channel: string): void;
  unsubscribe(channel: string): void;
  /** Publishes (the server must allow it); resolves on the server's ack. `exceptSelf`: not back to this connection. */
  publish(channel: string, event: string, data?: unknown, options?: { exceptSelf?: boolean }): Promise<void>;
  /** Asks a server-side handler (`hub.handle(type)`); resolves with its reply (see `LiveClient.request`). */
  request: LiveClient['request'];
  /** Sends a message of the app's own type, fire-and-forget (see `LiveClient.send`). */
  send: LiveClient['send'];
  /** Listens to messages the server sends this connection alone; off on scope dispose. Returns `off`. */
  onMessage: LiveClient['onMessage'];
  /** `'websocket'` or `'sse'` (with `transport: 'auto'` it can change); null before the first attempt. */
  transport: Readonly<Ref<LiveClient['transport']>>;
  /** Closes the connection for good (nothing reconnects until `client.connect()`); as the Go original names it. */
  disconnect(): void;
  /** The same as `disconnect()`. */
  close(): void;
  /** The underlying client. */
  client: LiveClient;
}

const clientKey: InjectionKey<LiveClient> = Symbol('livehub.client');

/** A Vue plugin that shares one connection with every composable in the app. */
export function createLivehub(url: string, options: LiveClientOptions = {}) {
  const client = new LiveClient(url, options);
  return {
    client,
    install(app: App) {
      app.provide(clientKey, client);
    },
  };
}

/** The explicit client, else the provided one (only asked where injection works: no warning). */
function findClient(explicit: LiveClient | undefined): LiveClient | null {
  return explicit ?? (hasInjectionContext() ? inject(clientKey, null) : null);
}

function requireClient(explicit: LiveClient | undefined, name: string): LiveClient {
  const client = findClient(explicit);
  if (!client) throw new TypeError(`livehub: ${name} needs a client: app.use(createLivehub(url)), or pass { client }`);
  return client;
}

/** Runs `stop` when the current effect scope (a component, an `effectScope()`) ends, if there is one. */
function onEnd(stop: () => void): void {
  if (getCurrentScope()) onScopeDispose(stop);
}

/** A store as a shallowRef, kept current while the scope lives. */
function fromStore<T>(store: ReadableStore<T>): Readonly<ShallowRef<T>> {
  const value = shallowRef(store.getSnapshot());
  onEnd(store.subscribe(() => { value.value = store.getSnapshot(); }));
  return value;
}

/** The connection's state: `{ status, connected, error }` as refs (one store shared by the three). */
export function useConnectionState(options: { client?: LiveClient } = {}) {
  const client = requireClient(options.client, 'useConnectionState');
  const store = new ConnectionStore(() => client);
  const state = shallowRef<ConnectionState>(store.getSnapshot());
  onEnd(store.subscribe(() => { state.value = store.getSnapshot(); }));
  state.value = store.getSnapshot();
  return {
    status: computed(() => state.value.status),
    connected: computed(() => state.value.connected),
    error: computed(() => state.value.error),
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
  const { status, connected, error } = useConnectionState({ client });
  const transport = shallowRef(client.transport);
  const onTransport = () => { transport.value = client.transport; };
  onEnd(client.events.on('transport', onTransport));
  const session = new ChannelSession(channelsOf(client));
  onEnd(() => {
    session.dispose();
    if (!shared) client.dispose();
  });
  return {
    connected: readonly(connected),
    status: readonly(status),
    error: readonly(error) as Readonly<Ref<Error | null>>,
    on: (channel, handler, onOptions = {}) => session.listen(channel, handler, onOptions),
    off: (channel, handler) => session.off(channel, handler),
    subscribe: (channel) => session.subscribe(channel),
    unsubscribe: (channel) => session.unsubscribe(channel),
    publish: (channel, event, data, publishOptions) => (publishOptions ? client.publish(channel, event, data, publishOptions) : client.publish(channel, event, data)),
    request: ((type: string, data?: unknown, requestOptions?: object) => client.request(type, data, requestOptions as never)) as LiveClient['request'],
    send: ((type: string, data?: unknown, sendOptions?: object) => client.send(type, data, sendOptions as never)) as LiveClient['send'],
    onMessage: ((type: string, handler: never) => {
      const off = client.direct.on(type, handler);
      onEnd(off);
      return off;
    }) as LiveClient['onMessage'],
    transport: readonly(transport),
    disconnect: () => client.close(),
    close: () => client.close(),
    client,
  };
}

/**
 * `useChannel('orders', (order, message) => …)` or `useChannel('chat', { events: { message: add } })`:
 * listens while the scope lives. `channel` may be a ref or getter (null: nothing); a new name moves
 * the listener. Returns `publish(event, data)` on that channel.
 */
export function useChannel<T = unknown>(
  channel: MaybeRefOrGetter<string | null | undefined>,
  listener: ChannelListener<T>,
  options: { client?: LiveClient; since?: StreamPosition } = {},
) {
  const client = requireClient(options.client, 'useChannel');
  const channels = channelsOf(client);
  let off: (() => void) | null = null;
  const listen = (name: string | null | undefined) => {
    off?.();
    off = name ? channels.listen<T>(name, (data, message) => dispatchTo(listener, data, message), options.since ? { since: options.since } : {}) : null;
  };
  const stopWatch = typeof channel === 'string' ? null : watch(() => toValue(channel), listen);
  listen(toValue(channel));
  onEnd(() => { stopWatch?.(); off?.(); });
  return {
    publish: (event: string, data?: unknown) => {
      const name = toValue(channel);
      return name ? client.publish(name, event, data) : Promise.reject(new TypeError('livehub: useChannel has no channel to publish on'));
    },
  };
}

export interface UsePresenceReturn {
  /** Who is in the channel: one entry per user, kept current by join, leave and update events. */
  members: Readonly<Ref<readonly PresenceMember[]>>;
  /** How many users are in the channel. */
  count: Readonly<Ref<number>>;
  /** Sets this connection's status (others see an update). */
  setStatus(status: PresenceStatus): Promise<void>;
}

/**
 * Who is online in a `presence-…` channel: `const { members, setStatus } = usePresence('presence-room')`.
 * Subscribes while the component lives; uses the provided client (see `createLivehub`) unless given one.
 */
export function usePresence(channel: string, options: { client?: LiveClient } = {}): UsePresenceReturn {
  const client = requireClient(options.client, 'usePresence');
  const store = presenceOf(client, channel);
  onEnd(store.acquire());
  const members = fromStore(store);
  return {
    members,
    count: computed(() => members.value.length),
    setStatus: (status) => store.setStatus(status),
  };
}

export interface UseRealtimeReturn<T> {
  /** The kept events, oldest first (a new array on each event). */
  events: Readonly<ShallowRef<readonly RealtimeEvent<T>[]>>;
  isConnected: Readonly<Ref<boolean>>;
  /** Opens the connection again after `disconnect()` (nothing while it is open or opening). */
  reconnect(): void;
  /** Closes the connection for good, for every user of this client, until `reconnect()`. */
  disconnect(): void;
  clearEvents(): void;
}

/**
 * Seed 003's generic hook: `useRealtime({ channel: 'user:42', events: ['message_new'], onEvent })`.
 * Build specialised ones on it: `const useMessages = (id) => useRealtime({ channel: \`user:${id}\`, events: [...] })`.
 */
export function useRealtime<T = unknown>(options: RealtimeOptions<T> & { client?: LiveClient }): UseRealtimeReturn<T> {
  const { client: explicit, ...feedOptions } = options ?? ({} as typeof options);
  const feed = new RealtimeFeed<T>(feedOptions);
  const client = requireClient(explicit, 'useRealtime');
  onEnd(feed.start(client));
  const { connected } = useConnectionState({ client });
  return {
    events: fromStore(feed.log),
    isConnected: connected,
    reconnect: () => client.connect(),
    disconnect: () => client.close(),
    clearEvents: () => feed.clear(),
  };
}

export type { ChannelListener, ConnectionState, RealtimeEvent, RealtimeOptions };
