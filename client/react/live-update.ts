import { useEffect, useMemo, useRef } from 'react';
import type { StreamPosition } from '../../pkg/protocol/index.js';
import { ChannelSession, channelsOf } from '../core/channels.js';
import type { LiveStatus, MessageHandler } from '../events.js';
import type { LiveClient } from '../live-client.js';
import type { LiveClientOptions } from '../options.js';
import { useConnectionOf } from './hooks.js';
import { useClientRef, useOwnClientRef } from './provider.js';

export interface UseLiveUpdateOptions extends LiveClientOptions {
  /** Use this client instead of the provider's (or of opening one for `url`). */
  client?: LiveClient;
}

export interface UseLiveUpdateReturn {
  connected: boolean;
  /** `idle` (also on a server and before mount), `connecting`, `open`, `reconnecting` or `closed`. */
  status: LiveStatus;
  /** The last error (a `LiveError` with a `code`); null once the connection opens. */
  error: Error | null;
  /**
   * Calls `handler(data, message)` for messages on `channel` until the returned `off` or unmount.
   * Call it from an effect or an event handler, not during render. `"*"`: every message.
   */
  on<T = unknown>(channel: string, handler: MessageHandler<T>, options?: { since?: StreamPosition }): () => void;
  off<T = unknown>(channel: string, handler: MessageHandler<T>): void;
  subscribe(channel: string): void;
  unsubscribe(channel: string): void;
  publish(channel: string, event: string, data?: unknown): Promise<void>;
  /** Closes the connection for good (until `reconnect()`), for every user of this client. */
  disconnect(): void;
  /** Opens the connection again after `disconnect()`. */
  reconnect(): void;
  /** The client (made now if needed: call it from effects and event handlers). */
  getClient(): LiveClient;
}

/**
 * The Vue composable's twin: `useLiveUpdate()` uses the provider's client, `useLiveUpdate('/ws')`
 * opens its own (closed after unmount). What `on` and `subscribe` registered ends with the component.
 */
export function useLiveUpdate(url?: string, options: UseLiveUpdateOptions = {}): UseLiveUpdateReturn {
  const { client, ...clientOptions } = options;
  const own = useOwnClientRef(client ? undefined : url, clientOptions);
  const provided = useClientRef(client, 'useLiveUpdate', own !== null);
  const ref = own ?? provided;
  if (!ref) throw new TypeError('livehub: useLiveUpdate needs a url, a <LivehubProvider> around it, or { client }');
  const state = useConnectionOf(ref);
  const session = useRef<ChannelSession | null>(null);
  useEffect(() => () => session.current?.dispose(), []);
  const api = useMemo(() => {
    const mine = () => (session.current ??= new ChannelSession(channelsOf(ref.get())));
    return {
      on: <T>(channel: string, handler: MessageHandler<T>, onOptions: { since?: StreamPosition } = {}) => mine().listen(channel, handler, onOptions),
      off: <T>(channel: string, handler: MessageHandler<T>) => mine().off(channel, handler),
      subscribe: (channel: string) => mine().subscribe(channel),
      unsubscribe: (channel: string) => mine().unsubscribe(channel),
      publish: (channel: string, event: string, data?: unknown) => ref.get().publish(channel, event, data),
      disconnect: () => ref.get().close(),
      reconnect: () => ref.get().connect(),
      getClient: () => ref.get(),
    };
  }, [ref]);
  return { ...state, ...api };
}
