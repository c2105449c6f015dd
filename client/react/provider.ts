import { createContext, createElement, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ClientRef } from '../core/client-ref.js';
import type { LiveClient } from '../live-client.js';
import type { LiveClientOptions } from '../options.js';

const LivehubContext = createContext<ClientRef | null>(null);

export type LivehubProviderProps =
  | { url: string; options?: LiveClientOptions; client?: never; children?: ReactNode }
  | { client: LiveClient; url?: never; options?: never; children?: ReactNode };

/**
 * Shares one connection with every livehub hook below it: `<LivehubProvider url="/ws">`. The client
 * is made lazily, by the first hook's effect: a server render constructs nothing and touches no
 * `window`. It is closed after the provider unmounts (not when it was given as `client`); a
 * StrictMode remount keeps the same connection.
 */
export function LivehubProvider(props: LivehubProviderProps) {
  const [ref] = useState(() => {
    if (props.client) return ClientRef.of(props.client);
    if (typeof props.url !== 'string') throw new TypeError('livehub: <LivehubProvider> needs a url (or a client)');
    return ClientRef.lazy(props.url, props.options);
  });
  useEffect(() => ref.retain(), [ref]);
  return createElement(LivehubContext.Provider, { value: ref }, props.children);
}

/** Options every hook takes: an explicit client instead of the provider's. */
export interface ClientOption {
  client?: LiveClient;
}

/** The client ref a hook uses: the explicit client, else the provider's; throws a TypeError without either. */
export function useClientRef(explicit: LiveClient | undefined, hook: string): ClientRef;
export function useClientRef(explicit: LiveClient | undefined, hook: string, optional: boolean): ClientRef | null;
export function useClientRef(explicit: LiveClient | undefined, hook: string, optional = false): ClientRef | null {
  const provided = useContext(LivehubContext);
  const own = useMemo(() => (explicit ? ClientRef.of(explicit) : null), [explicit]);
  const ref = own ?? provided;
  if (!ref && optional) return null;
  if (!ref) throw new TypeError(`livehub: ${hook} needs a client: render it inside <LivehubProvider url="/ws">, or pass { client }`);
  return ref;
}

/** A client ref this hook owns (`useLiveUpdate(url)`): made lazily, closed after unmount. */
export function useOwnClientRef(url: string | undefined, options: LiveClientOptions): ClientRef | null {
  const [own] = useState(() => (url === undefined ? null : ClientRef.lazy(url, options)));
  useEffect(() => own?.retain(), [own]);
  return own;
}

export { LivehubContext };
