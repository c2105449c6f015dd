import { existsSync } from 'node:fs';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announce, portArg, statsHandler } from './stats.js';

// What users run: the package as compiled by `npm run build:lib` (dist/), which the runner builds
// first. LIVEHUB_BENCH_SOURCES=1 runs the TypeScript sources instead, through tsx, whose transform
// wraps every function it creates in a naming helper (a few percent of the CPU in W3).
// LIVEHUB_BENCH_LIB: dist/pkg's absolute path, for a copy of this file compiled elsewhere (W7 at 100k).
const lib = process.env.LIVEHUB_BENCH_SOURCES === '1' ? '../../pkg' : process.env.LIVEHUB_BENCH_LIB ?? '../../dist/pkg';
if (!existsSync(new URL(`${lib}/index.js`, import.meta.url)) && lib.includes('dist')) {
  console.error('bench server: dist/ is missing: run `npm run build:lib` (npm run bench does), or set LIVEHUB_BENCH_SOURCES=1 to run the sources');
  process.exit(1);
}
const { Hub } = await import(`${lib}/index.js`) as typeof import('../../pkg/index.js');
const { RedisEngine } = await import(`${lib}/engine/redis.js`) as typeof import('../../pkg/engine/redis.js');
const { metricsHandler } = await import(`${lib}/observe/index.js`) as typeof import('../../pkg/observe/index.js');

/**
 * The bench server: a hub at ws://127.0.0.1:PORT/ speaking the normal protocol (and Server-Sent
 * Events at http://127.0.0.1:PORT/events?channel=…, commands by POST there), with subscribe and
 * publish allowed on every channel (presence channels too), any origin, and no per-connection caps (a load generator opens thousands
 * of connections from one address and publishes from one of them).
 * `npm run bench:server -- --port 9000 [--codec wasm] [--metrics] [--tags] [--outgoing]`.
 *
 * - `--metrics`: Prometheus metrics mounted as an app mounts them (`metricsHandler(hub)` at
 *   GET /metrics), scraped over HTTP once a second by the server itself, so the scrape costs too
 *   (`--scrape-every MS` to change that, 0 for never: what the hub's event listeners alone cost).
 * - `--tags`: every client publish is published by a `hub.use('publish', …)` middleware with
 *   `hub.publish(channel, event, data, { tags: { region: 'eu' } })` instead of the built-in command
 *   (a client publish cannot carry tags), so subscriptions with `"filter":{"region":"eu"}` match it.
 * - `--outgoing`: `hub.outgoing((message) => message)`, the per-connection hook, on every delivery.
 * - `--keep-headers a,b`: the `keepHeaders` option (bench/memory.ts --browser-headers measures it).
 * - `--heartbeat-period MS`: the `heartbeatPeriod` option (`Infinity`: none; bench/idle-cpu.ts).
 * - `--check-interval MS` (with REDIS_URL): the Redis engine's `checkInterval`, how often each node
 *   reads the position of every channel it holds (bench/w7-cluster.ts shows what it costs at 100k).
 */
const flag = (name: string) => process.argv.includes(name);
function checkInterval(): { checkInterval?: number } {
  const at = process.argv.indexOf('--check-interval');
  if (at < 0) return {};
  const ms = Number(process.argv[at + 1]);
  if (!Number.isInteger(ms) || ms < 1) throw new TypeError(`bench server: --check-interval takes milliseconds (1 or more), not ${process.argv[at + 1]}`);
  return { checkInterval: ms };
}
const codecAt = process.argv.indexOf('--codec');
const codec = codecAt >= 0 ? (process.argv[codecAt + 1] as 'js' | 'wasm') : 'js';
const hub = new Hub({
  codec, authorize: () => true, origins: () => true,
  // `--max-write-delay MS`: the hub option (0: write at the end of every turn, as before it existed).
  ...(process.argv.includes('--max-write-delay') ? { maxWriteDelay: Number(process.argv[process.argv.indexOf('--max-write-delay') + 1]) } : {}),
  ...(process.env.PRESENCE_TTL ? { presenceTtl: Number(process.env.PRESENCE_TTL) } : {}),
  // `--heartbeat-period MS`: the hub option (Infinity: no heartbeats; bench/idle-cpu.ts compares the two).
  ...(process.argv.includes('--heartbeat-period') ? { heartbeatPeriod: Number(process.argv[process.argv.indexOf('--heartbeat-period') + 1]) } : {}),
  // `--keep-headers a,b`: the hub option (the headers each connection keeps for policies).
  ...(process.argv.includes('--keep-headers') ? { keepHeaders: process.argv[process.argv.indexOf('--keep-headers') + 1]!.split(',') } : {}),
  rateLimit: Infinity, maxConnectionsPerIp: Infinity, maxConnections: Infinity,
  // REDIS_URL: run as one node of several sharing Redis.
  ...(process.env.REDIS_URL ? { engine: new RedisEngine({ url: process.env.REDIS_URL, prefix: process.env.LIVEHUB_PREFIX, ...checkInterval() }) } : {}),
});
if (flag('--tags')) {
  const tags = { region: 'eu' };
  hub.use('publish', (message) => {
    hub.publish(message.channel!, message.event as string, message.data, { tags }).catch((error: unknown) => {
      console.error(`bench server: a tagged publish failed: ${(error as Error).message}`);
    });
  });
}
if (flag('--outgoing')) hub.outgoing((message) => message);
const metrics = flag('--metrics') ? metricsHandler(hub) : null;
const stats = statsHandler(() => { const { node: _node, connections: _connections, ...totals } = hub.info(); return totals; });
const server = createServer((req, res) => {
  if (metrics && req.url === '/metrics') return metrics(req, res);
  if (!stats(req, res)) { res.statusCode = 404; res.end(); }
});
hub.attach(server, { path: '/', eventsPath: '/events' });
server.listen(portArg(), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  const at = process.argv.indexOf('--scrape-every');
  const every = at >= 0 ? Number(process.argv[at + 1]) : 1000;
  if (!Number.isInteger(every) || every < 0) throw new TypeError(`bench server: --scrape-every takes milliseconds (0: never), not ${process.argv[at + 1]}`);
  if (metrics && every > 0) {
    setInterval(() => {
      get(`http://127.0.0.1:${port}/metrics`, (res) => {
        if (res.statusCode !== 200) console.error(`bench server: GET /metrics answered ${res.statusCode}`);
        res.resume();
      }).on('error', (error) => console.error(`bench server: GET /metrics failed: ${error.message}`));
    }, every).unref();
  }
  announce(port);
});
process.on('SIGTERM', () => hub.close().then(() => process.exit(0)));
