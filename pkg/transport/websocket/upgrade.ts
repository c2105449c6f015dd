import { STATUS_CODES, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * HTTP-level plumbing of the WebSocket upgrade: answers before the upgrade, and
 * the dispatcher that lets `app.get('/ws', hub.handleWebSocket)` see upgrade requests on Express.
 */

/** Marks an upgrade request that the dispatcher routed through the app; holds the head bytes. */
export const kUpgradeHead = Symbol('livehub.upgradeHead');
export type UpgradeRequest = IncomingMessage & { [kUpgradeHead]?: Buffer };

/**
 * The `error` listener of an upgrading socket. A plain function, not a closure: a closure would keep
 * its scope (the request with all its headers) alive as long as the socket, about 1 KB a connection.
 */
function destroySocket(this: Duplex): void {
  this.destroy();
}

/**
 * Once ws owns an upgraded socket (its own `error` listener is on), ours goes: an idle connection
 * then keeps one `error` listener instead of an array of two (about 64 bytes a connection).
 */
export function handedOver(socket: Duplex): void {
  socket.removeListener('error', destroySocket);
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function rejectUpgrade(socket: Duplex, status: number, headers: Record<string, string> = {}): void {
  if (!socket.writable || socket.destroyed) {
    socket.destroy();
    return;
  }
  const body = `${STATUS_CODES[status] ?? 'Error'}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  socket.once('finish', () => socket.destroy());
}

export function isUpgradeRequest(request: IncomingMessage): boolean {
  return (request.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

export function pathnameOf(request: IncomingMessage): string {
  try {
    return new URL(request.url ?? '/', 'http://localhost').pathname;
  } catch {
    return '';
  }
}

type DirectHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

interface Dispatcher {
  /** `hub.attach(server, { path })` handlers, by path. */
  paths: Map<string, DirectHandler>;
  /** Route other upgrades through the app (set when `handleWebSocket` is mounted in it). */
  viaApp: boolean;
  /** The `upgrade` listener, to remove when released. */
  listener: (request: UpgradeRequest, socket: Duplex, head: Buffer) => void;
}
const dispatchers = new WeakMap<Server, Dispatcher>();

/**
 * Installs, once per server, the `upgrade` listener: an upgrade to an attached path goes straight to
 * its hub; any other goes through the server's request handler (the Express app) with a response
 * bound to the raw socket, so routes and middleware (auth, sessions) run before the upgrade and can
 * answer with any HTTP status. If nothing takes the upgrade, the response is sent and the socket ends.
 */
export function dispatcherFor(server: Server): Dispatcher {
  let dispatcher = dispatchers.get(server);
  if (dispatcher) return dispatcher;
  const created: Dispatcher = { paths: new Map(), viaApp: false, listener: onUpgrade };
  dispatchers.set(server, created);
  server.on('upgrade', onUpgrade);
  return created;

  function onUpgrade(request: UpgradeRequest, socket: Duplex, head: Buffer): void {
    socket.on('error', destroySocket);
    const direct = created.paths.get(pathnameOf(request));
    if (direct) return direct(request, socket, head);
    const app = server.listeners('request')[0] as ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
    if (!app || !created.viaApp) return rejectUpgrade(socket, 404);
    request[kUpgradeHead] = head;
    const response = new ServerResponse(request);
    response.shouldKeepAlive = false;
    response.assignSocket(socket as never);
    response.once('finish', () => {
      if (!request[kUpgradeHead]) return; // taken by handleWebSocket
      response.detachSocket(socket as never);
      socket.end();
      socket.once('finish', () => socket.destroy());
    });
    try {
      app(request, response);
    } catch {
      rejectUpgrade(socket, 500);
    }
  }
}

/** Removes a hub's paths (and app routing) from a server; the listener goes when nothing is left. */
export function releaseDispatcher(server: Server, paths: Iterable<string>, viaApp: boolean): void {
  const dispatcher = dispatchers.get(server);
  if (!dispatcher) return;
  for (const path of paths) dispatcher.paths.delete(path);
  if (viaApp) dispatcher.viaApp = false;
  if (dispatcher.paths.size > 0 || dispatcher.viaApp) return;
  server.removeListener('upgrade', dispatcher.listener);
  dispatchers.delete(server);
}

/** The server an incoming request arrived on. */
export function serverOf(request: IncomingMessage): Server | undefined {
  const socket = request.socket as unknown as { server?: Server; _server?: Server };
  return socket.server ?? socket._server;
}

/**
 * Takes an upgrade request that reached the app through the ordinary request path (the server had no
 * `upgrade` listener yet) away from Node's HTTP parser, as Node does itself on `upgrade`: without
 * this, the parser would read WebSocket frames as HTTP and the request timeout would end the
 * connection. Only the first upgrade on a server takes this path; the dispatcher takes the rest.
 * Returns false where this Node does not expose what it needs; the caller then answers 503.
 */
export function adoptFromRequestPath(request: IncomingMessage, response: ServerResponse): boolean {
  const socket = request.socket as unknown as Duplex & {
    parser?: { unconsume?: () => void; finish?: () => void; remove?: () => void } | null;
    setTimeout?: (ms: number) => void;
  };
  const parser = socket.parser;
  if (!parser || typeof parser.unconsume !== 'function' || typeof parser.finish !== 'function') return false;
  for (const event of ['data', 'end', 'close', 'drain', 'error', 'timeout']) socket.removeAllListeners(event);
  socket.on('error', destroySocket);
  parser.unconsume();
  parser.finish();
  parser.remove?.();
  socket.parser = null;
  socket.setTimeout?.(0);
  response.detachSocket(socket as never);
  return true;
}
