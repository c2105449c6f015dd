import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { announce, portArg, statsHandler } from './stats.js';

/**
 * The naive Server-Sent Events fan-out the benchmark compares livehub's SSE with, as most tutorials
 * write it: `GET /events?channel=a&channel=b` keeps the response in a Set per channel, and each
 * message is one `res.write` per subscriber (the event text made once). Like the naive ws hub it says
 * `subscribed` once a stream is in a channel (as a `livehub` event, which the load generator waits
 * for), and takes publishes as `{"type":"publish","channel","event","data"}` over a WebSocket.
 */
const channels = new Map<string, Set<ServerResponse>>();
const ids = new Map<string, number>();
const stats = statsHandler();

function publish(channel: string, event: string, data: unknown): void {
  const id = (ids.get(channel) ?? 0) + 1;
  ids.set(channel, id);
  const text = `event: ${event}\ndata: ${JSON.stringify({ channel, type: event, data })}\nid: ${id}\n\n`;
  for (const res of channels.get(channel) ?? []) res.write(text);
}

const server = createServer((req, res) => {
  if (stats(req, res)) return;
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'GET' || url.pathname !== '/events') {
    res.statusCode = 404;
    res.end();
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  const mine = new Set(url.searchParams.getAll('channel'));
  for (const channel of mine) {
    let set = channels.get(channel);
    if (!set) channels.set(channel, (set = new Set()));
    set.add(res);
    res.write(`event: livehub\ndata: ${JSON.stringify({ type: 'subscribed', channel })}\n\n`);
  }
  res.on('close', () => { for (const channel of mine) channels.get(channel)?.delete(res); });
});

const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (raw) => {
    let m: { type?: string; channel?: string; event?: string; data?: unknown };
    try { m = JSON.parse(String(raw)); } catch { return; }
    if (m.type === 'publish' && m.channel) publish(m.channel, m.event ?? 'message', m.data);
  });
  ws.on('error', () => {});
});
server.listen(portArg(), '127.0.0.1', () => announce((server.address() as AddressInfo).port));
