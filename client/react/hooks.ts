import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { PresenceMember, PresenceStatus, StreamPosition } from '../../pkg/protocol/index.js';
import { BoundStore } from '../core/bound-store.js';
import { channelsOf, dispatchTo, type ChannelListener } from '../core/channels.js';
import type { ClientRef } from '../core/client-ref.js';
import { ConnectionStore, type ConnectionState } from '../core/connection.js';
import { presenceOf } from '../core/presence.js';
import { RealtimeFeed, type RealtimeOptions } from '../core/realtime.js';
import type { ChannelActions, ConnectionShape, Nothing, PresenceActions, PresenceState, RealtimeActions, RealtimeState, ReactShape } from '../core/shapes.js';
import { useClientRef, type ClientOption } from './provider.js';

/** The connection's state `{ status, connected, stale, error }`, on `useSyncExternalStore` (idle on a server). */
export function useConnectionState(options: ClientOption = {}): ReactShape<ConnectionShape, Nothing> {
  return useConnectionOf(useClientRef(options.client, 'useConnectionState'));
}

export function useConnectionOf(ref: ClientRef): ConnectionState {
  const store = useMemo(() => new ConnectionStore(() => ref.get()), [ref]);
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getServerSnapshot);
}

/** The latest value, for callbacks that may change on every render without resubscribing. */
function useLatest<T>(value: T): { readonly current: T } {
  const ref = useRef(value);
  useLayoutEffect(() => { ref.current = value; });
  return ref;
}

/**
 * `useChannel('orders', (order, message) => …)` or `useChannel('chat', { types: { message: add } })`:
 * listens while mounted (`null`: not at all). The callbacks may change on every render: they are
 * read from a ref, so only a new channel name resubscribes. Returns `publish(type, data)`.
 */
export function useChannel<T = unknown>(
  channel: string | null | undefined, listener: ChannelListener<T>, options: ClientOption & { since?: StreamPosition } = {},
): ReactShape<Nothing, ChannelActions> {
  const ref = useClientRef(options.client, 'useChannel');
  const latest = useLatest(listener);
  const since = useRef(options.since);
  useEffect(() => {
    if (!channel) return;
    return channelsOf(ref.get()).listen<T>(channel, (data, message) => dispatchTo(latest.current, data, message), since.current ? { since: since.current } : {});
  }, [ref, channel, latest]);
  const publish = useCallback((type: string, data?: unknown) => {
    if (!channel) return Promise.reject(new TypeError('livehub: useChannel has no channel to publish on'));
    return ref.get().publish(channel, type, data);
  }, [ref, channel]);
  return { publish };
}

const NO_MEMBERS: readonly PresenceMember[] = Object.freeze([]);

/** `usePresence()`: the shared shape (client/core/shapes.ts) with plain values. */
export type UsePresenceReturn = ReactShape<PresenceState, PresenceActions>;

/** Who is online in a `presence-…` channel: `{ members, count, setStatus }`; subscribed while mounted. */
export function usePresence(channel: string, options: ClientOption = {}): UsePresenceReturn {
  const ref = useClientRef(options.client, 'usePresence');
  const store = useMemo(() => new BoundStore(() => {
    const presence = presenceOf(ref.get(), channel);
    return { store: presence, hold: () => presence.acquire() };
  }, NO_MEMBERS), [ref, channel]);
  const members = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getServerSnapshot);
  const setStatus = useCallback((status: PresenceStatus) => presenceOf(ref.get(), channel).setStatus(status), [ref, channel]);
  return { members, count: members.length, setStatus };
}

/** `useRealtime()`: the shared shape (client/core/shapes.ts) with plain values. */
export type UseRealtimeReturn<T> = ReactShape<RealtimeState<T>, RealtimeActions>;

/**
 * A generic feed: `useRealtime({ channel: 'user:42', types: ['message_new'], onEvent })`.
 * `onEvent` may change on every render; a new `channel` or `types` list restarts the feed (the log
 * is kept). `max` (default 100) is read once.
 */
export function useRealtime<T = unknown>(options: RealtimeOptions<T> & ClientOption): UseRealtimeReturn<T> {
  const { client, ...feedOptions } = options ?? ({} as typeof options);
  const ref = useClientRef(client, 'useRealtime');
  const [feed] = useState(() => new RealtimeFeed<T>(feedOptions));
  useLayoutEffect(() => feed.update(feedOptions));
  const key = RealtimeFeed.key(feedOptions);
  useEffect(() => feed.start(ref.get()), [feed, ref, key]);
  const events = useSyncExternalStore(feed.log.subscribe, feed.log.getSnapshot, feed.log.getSnapshot);
  const { connected } = useConnectionOf(ref);
  return useMemo(() => ({
    events,
    connected,
    isConnected: connected,
    reconnect: () => ref.get().connect(),
    disconnect: () => ref.get().close(),
    clearEvents: () => feed.clear(),
  }), [events, connected, ref, feed]);
}
