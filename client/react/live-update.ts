import { useEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import type { StreamPosition } from '../../pkg/protocol/index.js';
import { ChannelSession, channelsOf } from '../core/channels.js';
import type { LiveUpdateActions, LiveUpdateState, ReactShape } from '../core/shapes.js';
import { TransportStore } from '../core/transport-store.js';
import type { MessageHandler } from '../events.js';
import type { LiveClient } from '../live-client.js';
import type { LiveClientOptions } from '../options.js';
import type { DirectHandler } from '../request.js';
import { useChannelStatus, useConnectionOf } from './hooks.js';
import { useClientRef, useOwnClientRef } from './provider.js';

export interface UseLiveUpdateOptions extends LiveClientOptions {
  /** Use this client instead of the provider's (or of opening one for `url`). */
  client?: LiveClient;
}

/**
 * `useLiveUpdate()`: the shared shape (client/core/shapes.ts) with plain values. `status` is `idle`
 * on a server and before mount; call `on`, `subscribe` and `direct.on` from an effect or an event
 * handler, not during render.
 */
export type UseLiveUpdateReturn = ReactShape<LiveUpdateState, LiveUpdateActions>;

/**
 * The Vue composable's twin: `useLiveUpdate()` uses the provider's client, `useLiveUpdate('/ws')`
 * opens its own (closed after unmount). What `on`, `subscribe` and `direct.on` registered ends with the component.
 */
export function useLiveUpdate(url?: string, options: UseLiveUpdateOptions = {}): UseLiveUpdateReturn {
  const { client, ...clientOptions } = options;
  const own = useOwnClientRef(client ? undefined : url, clientOptions);
  const provided = useClientRef(client, 'useLiveUpdate', own !== null);
  const ref = own ?? provided;
  if (!ref) throw new TypeError('livehub: useLiveUpdate needs a url, a <LivehubProvider> around it, or { client }');
  const state = useConnectionOf(ref);
  const transports = useMemo(() => new TransportStore(() => ref.get()), [ref]);
  const transport = useSyncExternalStore(transports.subscribe, transports.getSnapshot, transports.getServerSnapshot);
  const session = useRef<ChannelSession | null>(null);
  const { state: { gap }, store: gaps } = useChannelStatus(ref, null, (channel) => session.current?.covers(channel) === true, () => undefined);
  const directOffs = useRef(new Set<() => void>());
  useEffect(() => () => {
    session.current?.dispose();
    for (const off of [...directOffs.current]) off();
  }, []);
  const api = useMemo((): LiveUpdateActions => {
    const mine = () => (session.current ??= new ChannelSession(channelsOf(ref.get())));
    return {
      on: <T>(channel: string, handler: MessageHandler<T>, onOptions: { since?: StreamPosition } = {}) => mine().listen(channel, handler, onOptions),
      off: <T>(channel: string, handler: MessageHandler<T>) => mine().off(channel, handler),
      subscribe: (channel: string) => mine().subscribe(channel),
      unsubscribe: (channel: string) => mine().unsubscribe(channel),
      publish: (channel, type, data, publishOptions) => (publishOptions ? ref.get().publish(channel, type, data, publishOptions) : ref.get().publish(channel, type, data)),
      request: ((type: string, data?: unknown, requestOptions?: object) => ref.get().request(type, data, requestOptions as never)) as LiveClient['request'],
      send: ((type: string, data?: unknown, sendOptions?: object) => ref.get().send(type, data, sendOptions as never)) as LiveClient['send'],
      direct: {
        on: <T>(type: string, handler: DirectHandler<T>) => {
          const stop = ref.get().direct.on(type, handler);
          const off = () => { directOffs.current.delete(off); stop(); };
          directOffs.current.add(off);
          return off;
        },
        off: <T>(type: string, handler: DirectHandler<T>) => ref.get().direct.off(type, handler),
      },
      disconnect: () => ref.get().close(),
      reconnect: () => ref.get().connect(),
      clearGap: () => gaps().clearGap(),
      getClient: () => ref.get(),
    };
  }, [ref, gaps]);
  return { ...state, transport, gap, ...api };
}
