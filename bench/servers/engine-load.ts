import { performance } from 'node:perf_hooks';

// The compiled package (dist/), as the other bench servers run it; LIVEHUB_BENCH_SOURCES=1 for the sources.
const lib = process.env.LIVEHUB_BENCH_SOURCES === '1' ? '../../pkg' : '../../dist/pkg';
const { MemoryEngine } = await import(`${lib}/engine/memory.js`) as typeof import('../../pkg/engine/memory.js');
const { RedisEngine } = await import(`${lib}/engine/redis.js`) as typeof import('../../pkg/engine/redis.js');
const { PostgresEngine } = await import(`${lib}/engine/postgres.js`) as typeof import('../../pkg/engine/postgres.js');
type Engine = import('../../pkg/engine/engine.js').Engine;
type Publication = import('../../pkg/engine/engine.js').Publication;

/**
 * One engine under load, in one process (bench/engines.ts runs it on its own core, once per engine):
 *
 * 1. durable publishes/s: `engine.publish` with `--window` calls in flight for `--duration` s, to one
 *    channel, then round robin over `--channels` channels (100-byte payloads, history 100 messages / 5 min);
 * 2. publish-to-delivery: a second node, in a process of its own (`--subscribe CHANNEL`, started first by
 *    bench/engines.ts on the other core; the memory engine has one node: itself, in this process),
 *    subscribes to a channel while this one publishes to it at half its one-channel rate, paced every
 *    millisecond; each publication carries its send time (the wall clock, µs), read as the subscriber
 *    is handed it.
 *
 *   node --import tsx bench/servers/engine-load.ts --engine memory|redis|postgres [--duration 5] [--window 256] [--channels 1000] [--latency-channel C]
 *   node --import tsx bench/servers/engine-load.ts --engine redis|postgres --subscribe C   (prints READY; on `EXPECT n`, RESULT once n arrived or 5 s passed)
 *   (REDIS_URL + LIVEHUB_PREFIX for redis, DATABASE_URL for postgres)
 * Prints `RESULT {json}`.
 */
const arg = (name: string, fallback: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1]! : fallback; };
const kind = arg('--engine', 'memory');
const duration = Number(arg('--duration', '5'));
const window = Number(arg('--window', '256'));
const channelCount = Number(arg('--channels', '1000'));
const policy = { size: 100, ttl: 300_000 };
const payload = JSON.stringify('x'.repeat(98));
/** The most publishes a second the latency run paces from one process. */
const PACED_MAX = 20_000;

function make(): Engine {
  if (kind === 'memory') return new MemoryEngine();
  if (kind === 'redis') return new RedisEngine({ url: process.env.REDIS_URL, prefix: process.env.LIVEHUB_PREFIX });
  if (kind === 'postgres') return new PostgresEngine({ connectionString: process.env.DATABASE_URL });
  throw new TypeError(`engine-load: --engine is memory, redis or postgres, not '${kind}'`);
}

let onDeliver: (p: Publication) => void = () => {};
const handlers = (node: string) => ({
  node, message: () => {}, reset: () => {}, deliver: (p: Publication) => onDeliver(p),
  log: (level: string, _cause: string, _context: unknown, message: string) => console.error(`engine-load ${kind} ${level}: ${message}`),
});

/** Publishes with `window` calls in flight for `seconds`; publishes/s and failures. */
async function saturate(engine: Engine, channels: string[], seconds: number): Promise<{ perSecond: number; failed: number }> {
  let done = 0, failed = 0, i = 0;
  const began = performance.now();
  const end = began + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      try { await engine.publish(channels[i++ % channels.length]!, 'b', payload, policy); done++; } catch { failed++; }
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return { perSecond: done / ((performance.now() - began) / 1000), failed };
}

const clock = () => performance.timeOrigin + performance.now();

/** Percentiles of latencies (ms). */
function summary(latencies: number[]) {
  const sorted = [...latencies].sort((x, y) => x - y);
  const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : null);
  return { delivered: latencies.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? null };
}

/** Records the latency of every publication of `channel` handed to this node. */
function record(channel: string): number[] {
  const latencies: number[] = [];
  onDeliver = (p) => { if (p.channel === channel) latencies.push(clock() - Number(JSON.parse(p.data).t)); };
  return latencies;
}

/** Publishes to one channel at `rate`/s for `seconds`, paced each millisecond. */
async function paced(publisher: Engine, channel: string, rate: number, seconds: number) {
  let sent = 0, failed = 0;
  const began = performance.now();
  const total = Math.round(rate * seconds);
  const pending: Array<Promise<unknown>> = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - began) / 1000) * rate));
    for (; sent < due; sent++) {
      const data = JSON.stringify({ t: clock(), pad: 'x'.repeat(60) });
      pending.push(Promise.resolve(publisher.publish(channel, 'b', data, policy)).catch(() => { failed++; }));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  return { rate, sent, failed };
}

async function drain(latencies: number[], expected: number) {
  const end = performance.now() + 5000;
  while (latencies.length < expected && performance.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
}

const subscribeTo = process.argv.includes('--subscribe') ? arg('--subscribe', '') : null;
const a = make();
await a.start(handlers(subscribeTo === null ? 'bench-publisher' : 'bench-subscriber'));
if (subscribeTo !== null) {
  // The second node: subscribes, says READY, and reports once told how many to expect.
  const latencies = record(subscribeTo);
  await a.subscribe(subscribeTo);
  console.log('READY');
  const { createInterface } = await import('node:readline');
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.startsWith('EXPECT ')) continue;
    await drain(latencies, Number(line.slice(7)));
    console.log(`RESULT ${JSON.stringify(summary(latencies))}`);
    break;
  }
} else {
  // Warm up (connections, prepared plans, the JIT).
  await saturate(a, ['warm'], 1);
  const one = await saturate(a, ['one'], duration);
  const many = await saturate(a, Array.from({ length: channelCount }, (_, i) => `many-${i}`), duration);
  // Half the one-channel rate, up to what this process can pace (the memory engine's half is far past it).
  const rate = Math.max(1, Math.min(PACED_MAX, Math.round(one.perSecond / 2)));
  let latency;
  if (kind === 'memory') {
    const channel = 'lat';
    const latencies = record(channel);
    await a.subscribe(channel);
    const run = await paced(a, channel, rate, duration);
    await drain(latencies, run.sent - run.failed);
    latency = { ...run, ...summary(latencies) };
  } else {
    latency = await paced(a, arg('--latency-channel', 'lat'), rate, duration);
  }
  console.log(`RESULT ${JSON.stringify({ engine: kind, window, channels: channelCount, one, many, latency })}`);
}
await a.close();
process.exit(0);
