import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { PresenceMember, PresenceStatus, StreamPosition } from '../../pkg/protocol/index.js';
import { BoundStore } from '../core/bound-store.js';
import { ChannelStateStore, checkChannelOptions, NO_CHANNEL_STATUS, type ChannelStatus, type GapOptions } from '../core/channel-state.js';
import { channelsOf, dispatchTo, type ChannelListener } from '../core/channels.js';
import type { ClientRef } from '../core/client-ref.js';
import { ConnectionStore, type ConnectionState } from '../core/connection.js';
import { presenceOf } from '../core/presence.js';
import { RealtimeFeed, type RealtimeOptions } from '../core/realtime.js';
import type {
  ChannelActions, ChannelState, ConnectionShape, Nothing, PresenceActions, PresenceState, RealtimeActions, RealtimeState, ReactShape,
} from '../core/shapes.js';
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
 * A hook's `{ error, gap }` (see `ChannelStatus`) on `useSyncExternalStore`: a new store when `key`
 * changes (another channel), made with the client after mount. `covers` and `onGap` are read at
 * each event. Returns the state, and the store for the actions (`clearGap`, event handlers only).
 */
export function useChannelStatus(ref: ClientRef, key: unknown, covers: (channel: string) => boolean, onGap: () => GapOptions['onGap']) {
  const latest = useLatest({ covers, onGap });
  const holder = useMemo(() => {
    let inner: ChannelStateStore | null = null;
    const store = () => (inner ??= new ChannelStateStore(ref.get(), (channel) => latest.current.covers(channel), () => latest.current.onGap()));
    return { store, bound: new BoundStore<ChannelStatus>(() => ({ store: store(), hold: () => () => {} }), NO_CHANNEL_STATUS) };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ref, key, latest]);
  const state = useSyncExternalStore(holder.bound.subscribe, holder.bound.getSnapshot, holder.bound.getServerSnapshot);
  return { state, store: holder.store };
}

/** `useChannel()`'s options (the same in livehub/vue). */
export interface UseChannelOptions extends ClientOption, GapOptions {
  /** Resume the channel from this position (e.g. from the page's props): nothing published after it is missed. */
  since?: StreamPosition;
}

/** `useChannel()`: the shared shape (client/core/shapes.ts) with plain values. */
export type UseChannelReturn = ReactShape<ChannelState, ChannelActions>;

/**
 * `useChannel('orders', (order, message) => …)` or `useChannel('chat', { types: { message: add } })`:
 * listens while mounted (`null`: not at all). The callbacks (and `onGap`) may change on every render:
 * they are read from a ref, so only a new channel name resubscribes. Returns the channel's `error`
 * and `gap`, `clearGap()`, and `publish(type, data)`.
 */
export function useChannel<T = unknown>(
  channel: string | null | undefined, listener: ChannelListener<T>, options: UseChannelOptions = {},
): UseChannelReturn {
  checkChannelOptions(options);
  const ref = useClientRef(options.client, 'useChannel');
  const latest = useLatest(listener);
  const since = useRef(options.since);
  const onGap = options.onGap;
  const { state, store } = useChannelStatus(ref, channel, (name) => name === channel, () => onGap);
  useEffect(() => {
    if (!channel) return;
    return channelsOf(ref.get()).listen<T>(channel, (data, message) => dispatchTo(latest.current, data, message), since.current ? { since: since.current } : {});
  }, [ref, channel, latest]);
  const publish = useCallback((type: string, data?: unknown) => {
    if (!channel) return Promise.reject(new TypeError('livehub: useChannel has no channel to publish on'));
    return ref.get().publish(channel, type, data).then(() => store().published(channel));
  }, [ref, channel, store]);
  const clearGap = useCallback(() => store().clearGap(), [store]);
  return { error: state.error, gap: state.gap, clearGap, publish };
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
  const { state } = useChannelStatus(ref, channel, (name) => name === channel, () => undefined);
  const setStatus = useCallback((status: PresenceStatus) => presenceOf(ref.get(), channel).setStatus(status), [ref, channel]);
  return { members, count: members.length, error: state.error, setStatus };
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
  const { state, store } = useChannelStatus(ref, feed, (channel) => feed.covers(channel), () => feed.onGap());
  const { connected } = useConnectionOf(ref);
  return useMemo(() => ({
    events,
    connected,
    isConnected: connected,
    error: state.error,
    gap: state.gap,
    reconnect: () => ref.get().connect(),
    disconnect: () => ref.get().close(),
    clearEvents: () => feed.clear(),
    clearGap: () => store().clearGap(),
  }), [events, connected, state, ref, feed, store]);
}
