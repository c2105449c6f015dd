import { detach, SUBPROTOCOL, type WebSocketConstructor, type WebSocketLike } from './socket.js';
import type { Connection, ConnectionHandlers } from './transport-connection.js';
import type { DialectChoice } from './dialect.js';
import { LiveError } from './errors.js';

const NOTHING_RESUMED: ReadonlyMap<string, never> = new Map<string, never>();

/**
 * A connection over one WebSocket. Throws what the constructor throws (a bad URL); the caller
 * reports it and tries again.
 */
export function openWebSocket(Ctor: WebSocketConstructor, url: string, handlers: ConnectionHandlers, dialect: DialectChoice): Connection {
  const offered = dialect.offers();
  const ws: WebSocketLike = offered ? new Ctor(url, [SUBPROTOCOL]) : new Ctor(url);
  let closed = false;
  let opened = false;
  let failure: string | undefined;
  let spoken: 'livehub' | 'plain' | null = null;
  ws.onopen = () => {
    opened = true;
    spoken = dialect.opened(ws.protocol);
    handlers.open(NOTHING_RESUMED);
  };
  ws.onmessage = (event) => handlers.message(String(event.data));
  ws.onclose = (event) => {
    if (closed) return;
    closed = true;
    detach(ws);
    if (!opened) dialect.failedBeforeOpen(offered, failure);
    handlers.closed(event.code, event.reason);
  };
  ws.onerror = (event) => {
    failure = (event as { message?: unknown }).message as string | undefined;
    // Before open, the close that follows reports the failed attempt. After, the error shows too.
    if (opened && !closed) handlers.failed(new LiveError('socket_error', `the WebSocket reported an error${failure ? ` (${failure})` : ''}; the client reconnects if the connection closes`));
  };
  return {
    transport: 'websocket',
    get confirms() { return (spoken ?? (ws.protocol === SUBPROTOCOL ? 'livehub' : 'plain')) === 'livehub'; },
    get dialect() { return spoken ?? (ws.protocol === SUBPROTOCOL ? 'livehub' : 'plain'); },
    get isOpen() { return !closed && ws.readyState === 1; },
    send(text) {
      if (!closed && ws.readyState === 1) ws.send(text);
    },
    close(code, reason) {
      if (closed) return;
      closed = true;
      detach(ws);
      try {
        // A browser's close() takes 1000 or 3000-4999; a socket still connecting is just dropped.
        if (ws.readyState === 1 && code !== undefined) ws.close(code, reason);
        else ws.close();
      } catch { /* already closing */ }
    },
  };
}
