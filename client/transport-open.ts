import { clientErrors, LiveError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { findWebSocket, resolveUrl, withToken } from './socket.js';
import type { Connection, ConnectionHandlers, TransportName } from './transport-connection.js';
import { eventsUrlFor, findEventSource, openEventSource, resolveEventsUrl, streamUrl } from './transport-sse.js';
import { openWebSocket } from './transport-websocket.js';
import { dialectOf } from './dialect.js';

/** Opens a connection with the handlers given (throws what the transport's constructor throws). */
export type Opener = (handlers: ConnectionHandlers) => Connection;

/**
 * What opening `transport` takes: its implementation (the option, the global, or `ws` loaded in
 * Node) and a token from `getToken()`. Synchronous when neither has to be awaited, so that a client
 * made with a WebSocket class and no `getToken` has its socket at once. A LiveError when the
 * transport has no implementation here (`no_websocket`, `no_eventsource`); rejects when `getToken` does.
 */
export function prepareOpener(transport: TransportName, url: string, options: ResolvedOptions): Opener | LiveError | Promise<Opener | LiveError> {
  const { getToken } = options;
  const found = transport === 'websocket' ? findWebSocket(options.WebSocket) : findEventSource(options.EventSource);
  if (typeof found === 'function' && !getToken) return openerFor(transport, found, url, options, null);
  if (found instanceof Error) return missing(transport, found);
  return Promise.all([found, getToken ? Promise.resolve().then(getToken) : null]).then(([Ctor, token]) => {
    if (Ctor instanceof Error) return missing(transport, Ctor);
    return openerFor(transport, Ctor, url, options, token ?? null);
  });
}

/** The URL of the hub's SSE endpoint for this client. */
export function eventsUrlOf(url: string, options: ResolvedOptions): string {
  return options.eventsUrl !== undefined ? resolveEventsUrl(options.eventsUrl) : eventsUrlFor(resolveUrl(url));
}

function openerFor(transport: TransportName, Ctor: unknown, url: string, options: ResolvedOptions, token: string | null): Opener {
  if (transport === 'websocket') {
    const target = token === null ? resolveUrl(url) : withToken(resolveUrl(url), options.tokenParameter, token);
    const dialect = dialectOf(options, options.dialect);
    return (handlers) => openWebSocket(Ctor as Parameters<typeof openWebSocket>[0], target, handlers, dialect);
  }
  const fetch = (globalThis as { fetch?: typeof globalThis.fetch }).fetch;
  return (handlers) => {
    // Inside the opener: a URL that cannot be resolved is a failed attempt, reported, as for a WebSocket.
    const eventsUrl = eventsUrlOf(url, options);
    const target = streamUrl(eventsUrl, token === null ? null : { parameter: options.tokenParameter, value: token });
    if (!fetch) throw new LiveError('no_fetch', 'livehub: transport \'sse\' sends commands with fetch(), and there is none here');
    return openEventSource(Ctor as Parameters<typeof openEventSource>[0], target, { postUrl: eventsUrl, fetch: fetch.bind(globalThis) }, handlers);
  };
}

function missing(transport: TransportName, cause: Error): LiveError {
  return transport === 'websocket' ? clientErrors.noWebSocket(cause) : clientErrors.noEventSource(cause);
}
