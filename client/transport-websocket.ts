import { detach, SUBPROTOCOL, type WebSocketConstructor, type WebSocketLike } from './socket.js';
import type { Connection, ConnectionHandlers } from './transport-connection.js';

const NOTHING_RESUMED: ReadonlyMap<string, never> = new Map<string, never>();

/**
 * A connection over one WebSocket. Throws what the constructor throws (a bad URL); the caller
 * reports it and tries again.
 */
export function openWebSocket(Ctor: WebSocketConstructor, url: string, handlers: ConnectionHandlers): Connection {
  const ws: WebSocketLike = new Ctor(url, [SUBPROTOCOL]);
  let closed = false;
  ws.onopen = () => handlers.open(NOTHING_RESUMED);
  ws.onmessage = (event) => handlers.message(String(event.data));
  ws.onclose = (event) => {
    if (closed) return;
    closed = true;
    detach(ws);
    handlers.closed(event.code, event.reason);
  };
  ws.onerror = () => { /* a close event follows */ };
  return {
    transport: 'websocket',
    get confirms() { return ws.protocol === SUBPROTOCOL; },
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
