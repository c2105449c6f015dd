/**
 * The WebSocket the client talks through: the structural type both the browser's `WebSocket` and
 * `ws`'s fit, how the client finds an implementation when none is given, and URL helpers.
 */
import { SUBPROTOCOL } from '../pkg/protocol/index.js';

/**
 * A handler property both the browser's handlers (`(this: WebSocket, ev: MessageEvent) => any`) and
 * `ws`'s (`(event: WebSocket.MessageEvent) => void`) can be assigned to: declared as a method, its
 * parameter is compared both ways, so an implementation's richer event type fits.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of the WebSocket API the client uses: the browser's, or `ws`'s in Node. */
export interface WebSocketLike {
  readonly readyState: number;
  /** The subprotocol the server chose (`''` when none). */
  readonly protocol?: string;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** `WebSocket` from `ws`, the browser's `WebSocket`, or anything shaped like them. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * The subprotocol the client offers on every connection. A server that selects it sends the
 * confirmations (`subscribed`, `unsubscribed`, channel errors) the client relies on; without it the
 * client still works, on messages alone.
 */
export { SUBPROTOCOL };

let loadedWs: Promise<WebSocketConstructor | Error> | null = null;

/**
 * The implementation to use: the option, else `globalThis.WebSocket` (browsers, Node 22+), else `ws`
 * loaded on first use (Node 20). Resolves to an Error naming the fix when there is none.
 */
export function findWebSocket(option: WebSocketConstructor | undefined): WebSocketConstructor | Promise<WebSocketConstructor | Error> {
  if (option) return option;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  loadedWs ??= loadWs();
  return loadedWs;
}

async function loadWs(): Promise<WebSocketConstructor | Error> {
  // A variable specifier, ignored by bundlers: browsers have a global WebSocket and never get here.
  const specifier = 'ws';
  try {
    const module = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as {
      WebSocket?: WebSocketConstructor; default?: WebSocketConstructor;
    };
    const Ctor = module.WebSocket ?? module.default;
    if (typeof Ctor === 'function') return Ctor;
    return new Error('the `ws` package has no WebSocket export');
  } catch (error) {
    return new Error(`there is no global WebSocket and the \`ws\` package could not be loaded (${(error as Error).message})`);
  }
}

/** Drops a socket's handlers (it is being replaced or closed). */
export function detach(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = null;
  // Keep an error handler: closing a socket that is still connecting makes `ws` (Node) emit an
  // error, which would be thrown with no listener.
  ws.onerror = () => {};
}

export function withToken(url: string, parameter: string, token: string | null): string {
  if (token === null || token === undefined) return url;
  const parsed = new URL(url);
  parsed.searchParams.set(parameter, token);
  return parsed.toString();
}

/** Resolves a relative URL (`/ws`) against the page: `ws:` for http pages, `wss:` for https. */
export function resolveUrl(url: string): string {
  const location = (globalThis as { location?: Location }).location;
  if (/^wss?:\/\//i.test(url) || !location) return url;
  const resolved = new URL(url, location.href);
  resolved.protocol = resolved.protocol === 'https:' ? 'wss:' : 'ws:';
  return resolved.toString();
}
