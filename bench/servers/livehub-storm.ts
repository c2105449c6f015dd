import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announce, backlogArg, portArg, statsHandler } from './stats.js';

// The compiled package (dist/), as bench/servers/livehub.ts runs it; LIVEHUB_BENCH_SOURCES=1 for the sources.
// LIVEHUB_STORM_LIB: a copy of dist/pkg (an absolute path) that bench/storm-run.ts takes when it starts, so a
// node restarted mid-run does not load a dist/ that another build is replacing at that moment.
const lib = process.env.LIVEHUB_BENCH_SOURCES === '1' ? '../../pkg' : process.env.LIVEHUB_STORM_LIB ?? '../../dist/pkg';
const { Hub } = await import(`${lib}/index.js`) as typeof import('../../pkg/index.js');
// Only the engine this node runs on is loaded, as an app would: a restarted node listens sooner.
const engine = process.env.DATABASE_URL
  ? new (await import(`${lib}/engine/postgres.js`) as typeof import('../../pkg/engine/postgres.js')).PostgresEngine({ connectionString: process.env.DATABASE_URL })
  : process.env.REDIS_URL
    ? new (await import(`${lib}/engine/redis.js`) as typeof import('../../pkg/engine/redis.js')).RedisEngine({
      url: process.env.REDIS_URL, prefix: process.env.LIVEHUB_PREFIX,
      // --auto-pipeline: ioredis joins the commands issued in one tick into one write (enableAutoPipelining).
      ...(process.argv.includes('--auto-pipeline') ? { redis: { enableAutoPipelining: true } } : {}),
    })
    : undefined;

/**
 * W8's livehub node (bench/storm-run.ts): the bench server's hub (every channel open to subscribe
 * and publish, no per-connection caps, default history: 100 messages and 5 minutes per channel) that
 * shuts down as docs/operations.md's Drain section does, so a restart is what a real deploy does:
 * SIGTERM closes the listener (new connections are refused by the kernel), drains (every connection
 * closed with 1012 spread over `--spread` ms; without it, hub.drain()'s default: 5000 with Redis or
 * PostgreSQL, 0 on the memory engine, where no other node can take the clients), then closes and
 * exits. SIGKILL is the crash.
 * With REDIS_URL, it is one node of several sharing Redis (LIVEHUB_PREFIX: the key prefix); with
 * DATABASE_URL, a node on the PostgreSQL engine.
 *
 *   node --import tsx bench/servers/livehub-storm.ts --port P [--spread MS] [--backlog N] [--auto-pipeline]
 */
const option = (name: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] : undefined; };
const spread = option('--spread') === undefined ? undefined : Number(option('--spread'));
if (spread !== undefined && !(Number.isFinite(spread) && spread >= 0)) throw new TypeError(`livehub-storm: --spread takes milliseconds >= 0, not ${option('--spread')}`);
const hub = new Hub({
  codec: 'js', authorize: () => true, origins: () => true, canPublish: () => true,
  rateLimit: Infinity, maxConnectionsPerIp: Infinity, maxConnections: Infinity,
  ...(engine ? { engine } : {}),
});
const stats = statsHandler(() => { const { node: _node, connections: _connections, ...totals } = hub.info(); return totals; });
const server = createServer((req, res) => { if (!stats(req, res)) { res.statusCode = 404; res.end(); } });
hub.attach(server, { path: '/' });
// --backlog N: the listen queue, as the operations guide tells users to size it for a storm.
const backlog = backlogArg('livehub-storm');
server.listen({ port: portArg(), host: '127.0.0.1', ...(backlog ? { backlog } : {}) }, () => announce((server.address() as AddressInfo).port));
process.once('SIGTERM', () => {
  const began = Date.now();
  server.close(); // stop listening first: the reconnects that come at once are refused by the kernel, not answered here
  hub.drain(spread === undefined ? {} : { spread })
    .then(() => hub.close())
    .then(() => {
      console.error(`livehub-storm: drained and closed in ${Date.now() - began} ms`);
      process.exit(0);
    }, (error: unknown) => {
      console.error(`livehub-storm: the shutdown failed: ${(error as Error).stack}`);
      process.exit(1);
    });
});
// SIGUSR2: exit at once (bench/storm-run.ts --storm-prof ends nodes so, and --cpu-prof writes the profile on exit).
process.once('SIGUSR2', () => process.exit(0));
