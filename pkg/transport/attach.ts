import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { pathnameOf } from './websocket/upgrade.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

const kOriginal = Symbol('livehub.originalRequestListeners');
type Attached = Server & { [kOriginal]?: { paths: Map<string, Handler>; listeners: Handler[]; dispatch: Handler } };

/**
 * Serves `path` on a plain `http.Server` with `handler`, and hands every other request to the
 * server's own request listeners (which are moved behind a dispatcher, so exactly one answers).
 */
export function attachRequests(server: Server, path: string, handler: Handler): void {
  const attached = server as Attached;
  let state = attached[kOriginal];
  if (!state) {
    const listeners = server.listeners('request') as Handler[];
    const paths = new Map<string, Handler>();
    const dispatch: Handler = (request, response) => {
      const own = paths.get(pathnameOf(request));
      if (own) return own(request, response);
      for (const listener of listeners) listener.call(server, request, response);
      if (listeners.length === 0) {
        response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        response.end('Not Found\n');
      }
    };
    state = { paths, listeners, dispatch };
    attached[kOriginal] = state;
    server.removeAllListeners('request');
    server.on('request', dispatch);
  }
  state.paths.set(path, handler);
}

/** Undoes `attachRequests` for `path`; the server's own listeners are restored when none is left. */
export function detachRequests(server: Server, path: string): void {
  const attached = server as Attached;
  const state = attached[kOriginal];
  if (!state) return;
  state.paths.delete(path);
  if (state.paths.size > 0) return;
  server.removeListener('request', state.dispatch);
  for (const listener of state.listeners) server.on('request', listener);
  delete attached[kOriginal];
}
