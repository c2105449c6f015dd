import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { announce, portArg, statsHandler } from './stats.js';

/**
 * The naive ws hub the benchmark compares against: the same JSON protocol, a Map of channels, and a
 * `ws.send` per subscriber per message (the message serialized once).
 */
const channels = new Map<string, Set<WebSocket>>();
const stats = statsHandler();
const server = createServer((req, res) => { if (!stats(req, res)) { res.statusCode = 404; res.end(); } });
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  const mine = new Set<string>();
  ws.on('message', (raw) => {
    let m: { type?: string; channel?: string; event?: string; data?: unknown };
    try { m = JSON.parse(String(raw)); } catch { return; }
    if (m.type === 'subscribe' && m.channel) {
      let set = channels.get(m.channel);
      if (!set) channels.set(m.channel, (set = new Set()));
      set.add(ws);
      mine.add(m.channel);
      ws.send(JSON.stringify({ type: 'subscribed', channel: m.channel }));
    } else if (m.type === 'publish' && m.channel) {
      const text = JSON.stringify({ channel: m.channel, type: m.event, data: m.data });
      for (const peer of channels.get(m.channel) ?? []) peer.send(text);
    }
  });
  ws.on('close', () => { for (const c of mine) channels.get(c)?.delete(ws); });
  ws.on('error', () => {});
});
server.listen(portArg(), '127.0.0.1', () => announce((server.address() as AddressInfo).port));
