import {
  computed, getCurrentScope, inject, onScopeDispose, readonly, ref, shallowRef,
  type App, type InjectionKey, type Ref,
} from '@vue/runtime-core';
import { BROADCAST_CHANNEL, type PresenceMember, type PresenceStatus, type StreamPosition } from '../pkg/protocol.js';
import type { LiveStatus, MessageHandler } from './events.js';
import { LiveClient } from './live-client.js';
import type { LiveClientOptions } from './options.js';

/** livehub/vue: `useLiveUpdate`, after the Go original's composable, as vueuse shapes them. */

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
  /** Publishes (the server must allow it); resolves on the server's ack. */
  publish(channel: string, event: string, data?: unknown): Promise<void>;
  /** Closes the connection for good (nothing reconnects until `client.connect()`); as the Go original names it. */
  disconnect(): void;
  /** The same as `disconnect()`. */
  close(): void;
  /** The underlying client. */
  client: LiveClient;
}

const clientKey: InjectionKey<LiveClient> = Symbol('livehub.client');

/** A Vue plugin that shares one connection with every `useLiveUpdate()` in the app. */
export function createLivehub(url: string, options: LiveClientOptions = {}) {
  const client = new LiveClient(url, options);
  return {
    client,
    install(app: App) {
      app.provide(clientKey, client);
    },
  };
}

/**
 * Live updates in a component: `const { connected, on } = useLiveUpdate('/ws')`. Handlers, the
 * subscriptions they hold and (when it opened one) the connection end with the component's scope.
 */
export function useLiveUpdate(url?: string, options: UseLiveUpdateOptions = {}): UseLiveUpdateReturn {
  const provided = getCurrentScope() ? inject(clientKey, null) : null;
  const shared = options.client ?? (url === undefined ? provided : null);
  if (!shared && url === undefined) throw new TypeError('livehub: useLiveUpdate needs a url or a provided client');
  const { client: _ignored, ...clientOptions } = options;
  const client = shared ?? new LiveClient(url!, clientOptions);
  const owned = !shared;

  const status = ref<LiveStatus>(client.status);
  const connected = ref(client.status === 'open');
  const error = shallowRef<Error | null>(client.lastError);
  const sync = () => {
    status.value = client.status;
    connected.value = client.status === 'open';
    error.value = client.lastError;
  };
  const stops = [
    client.addEventListener('status', sync),
    client.addEventListener('error', sync),
    client.addEventListener('close', sync),
    client.addEventListener('reply', sync), // a subscribe that succeeds after failing clears its error
  ];

  const mine = new Set<() => void>();
  const subscribed = new Map<string, number>();

  /** `"*"` handlers, as in the Go original: every message the connection receives. */
  const wildcard = new Map<MessageHandler<never>, () => void>();

  function on<T>(channel: string, handler: MessageHandler<T>, onOptions: { since?: StreamPosition } = {}): () => void {
    const offClient = channel === BROADCAST_CHANNEL ? onEvery(handler) : client.on(channel, handler, onOptions);
    let done = false;
    const off = () => {
      if (done) return;
      done = true;
      mine.delete(off);
      offClient();
    };
    mine.add(off);
    return off;
  }

  function onEvery<T>(handler: MessageHandler<T>): () => void {
    const key = handler as MessageHandler<never>;
    if (wildcard.has(key)) return () => off(BROADCAST_CHANNEL, handler);
    const stop = client.addEventListener('message', (message) => (handler as MessageHandler)(message.data, message));
    wildcard.set(key, stop);
    return () => off(BROADCAST_CHANNEL, handler);
  }

  function off<T>(channel: string, handler: MessageHandler<T>): void {
    if (channel !== BROADCAST_CHANNEL) return client.off(channel, handler);
    const key = handler as MessageHandler<never>;
    wildcard.get(key)?.();
    wildcard.delete(key);
  }

  function subscribe(channel: string): void {
    subscribed.set(channel, (subscribed.get(channel) ?? 0) + 1);
    client.subscribe(channel);
  }

  function unsubscribe(channel: string): void {
    const count = subscribed.get(channel) ?? 0;
    if (count === 0) return;
    if (count === 1) subscribed.delete(channel);
    else subscribed.set(channel, count - 1);
    client.unsubscribe(channel);
  }

  function dispose(): void {
    for (const off of [...mine]) off();
    for (const [channel, count] of subscribed) for (let i = 0; i < count; i++) client.unsubscribe(channel);
    subscribed.clear();
    for (const stop of stops) stop();
    if (owned) client.dispose();
  }

  if (getCurrentScope()) onScopeDispose(dispose);

  return {
    connected: readonly(connected),
    status: readonly(status),
    error: readonly(error) as Readonly<Ref<Error | null>>,
    on,
    off,
    subscribe,
    unsubscribe,
    publish: (channel, event, data) => client.publish(channel, event, data),
    disconnect: () => client.close(),
    close: () => client.close(),
    client,
  };
}

export interface UsePresenceReturn {
  /** Who is in the channel: one entry per user, kept current by join, leave and update events. */
  members: Readonly<Ref<PresenceMember[]>>;
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
  const live = useLiveUpdate(undefined, options.client ? { client: options.client } : {});
  const byUser = ref(new Map<string, PresenceMember>());
  const replace = (list: PresenceMember[]) => { byUser.value = new Map(list.map((m) => [m.userId, m])); };
  const stopList = live.client.addEventListener('presence', (event) => { if (event.channel === channel) replace(event.members); });
  live.on<{ userId: string; status?: PresenceStatus; info?: unknown }>(channel, (data, message) => {
    const next = new Map(byUser.value);
    const known = next.get(data.userId);
    if (message.type === 'join') next.set(data.userId, { userId: data.userId, status: data.status ?? 'online', connections: 1, ...(data.info === undefined ? {} : { info: data.info }) });
    else if (message.type === 'leave') next.delete(data.userId);
    else if (message.type === 'update' && known) next.set(data.userId, { ...known, status: data.status ?? known.status });
    else return;
    byUser.value = next;
  });
  if (getCurrentScope()) onScopeDispose(stopList);
  const members = computed(() => [...byUser.value.values()]);
  return {
    members,
    count: computed(() => byUser.value.size),
    setStatus: (status) => live.client.setStatus(channel, status),
  };
}
