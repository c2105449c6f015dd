import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RedisEngine } from '../../pkg/engine/redis.js';
import { Hub } from '../../pkg/index.js';
import { announce, portArg, statsHandler } from './stats.js';

/**
 * The bench server: a hub at ws://127.0.0.1:PORT/ speaking the normal protocol (and Server-Sent
 * Events at http://127.0.0.1:PORT/events?channel=…, commands by POST there), with subscribe and
 * publish allowed on every channel (presence channels too), any origin, and no per-connection caps (a load generator opens thousands
 * of connections from one address and publishes from one of them).
 * `npm run bench:server -- --port 9000 [--codec wasm]`.
 */
const codecAt = process.argv.indexOf('--codec');
const codec = codecAt >= 0 ? (process.argv[codecAt + 1] as 'js' | 'wasm') : 'js';
const hub = new Hub({
  codec, authorize: () => true, origins: () => true,
  ...(process.env.PRESENCE_TTL ? { presenceTtl: Number(process.env.PRESENCE_TTL) } : {}),
  rateLimit: Infinity, maxConnectionsPerIp: Infinity, maxConnections: Infinity,
  // REDIS_URL: run as one node of several sharing Redis.
  ...(process.env.REDIS_URL ? { engine: new RedisEngine({ url: process.env.REDIS_URL, prefix: process.env.LIVEHUB_PREFIX }) } : {}),
});
const stats = statsHandler(() => ({ ...hub.metrics() }));
const server = createServer((req, res) => {
  if (!stats(req, res)) { res.statusCode = 404; res.end(); }
});
hub.attach(server, { path: '/', eventsPath: '/events' });
server.listen(portArg(), '127.0.0.1', () => announce((server.address() as AddressInfo).port));
process.on('SIGTERM', () => hub.close().then(() => process.exit(0)));
