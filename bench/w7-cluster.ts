import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freemem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import ts from 'typescript';
import { lines } from './child-lines.js';
import { dropKeysAfterRun } from './redis-keys.js';
import { connectionLimits, hardFileLimit, SPARE_FILES } from './file-limit.js';
import type { GenConfig } from './loadgen.js';

/**
 * W7 at 100,000 connections on one machine whose processes may each hold under 20,000 open files:
 * livehub as several processes (bench/servers/livehub.ts, each a node of the Redis engine, on the
 * servers' core) and the C load generator as as many processes (on the generator's core), generator i
 * connecting its share of the subscribers to server i. Every subscriber is in the shared channel "c"
 * and its own ("u<index>", unique across the generators, whose source addresses are distinct too:
 * 127.1.0.1 + index / 1,000). The first generator then publishes 5 broadcasts to "c", a second
 * apart, through its server; Redis carries them to the others, and every delivery to all 100,000
 * is timed (the stamps are CLOCK_MONOTONIC, one clock for every process of the machine). The other
 * generators publish nothing and wait for those 5 (the generator's "listen" option), and each writes
 * its samples to a file (its "latencyFile" option), merged here into one p50/p99 over all deliveries.
 *
 *   npm run bench -- --only W7 [--w7-connections 100000] [--w7-processes 6]
 */

export interface ClusterOptions {
  connections: number;
  /** livehub processes (and as many generator processes); default: as few as the open-files limit allows, at least 2. */
  processes?: number;
  /** The C load generator (bench/loadgen.c). */
  generator: string;
  spawnOn: (core: number | string, args: string[], env: Record<string, string>, program?: string) => ChildProcess;
  /** The Redis engine's `checkInterval` (ms) on every process; default: the engine's (2 s). */
  checkInterval?: number;
  /** V8's young generation on every process, in MB a semi-space (`--max-semi-space-size`); default: V8's (up to 16). */
  semiSpace?: number;
  /** The cores of the livehub processes, for taskset ("0-1": both). */
  serverCores: number | string;
  generatorCore: number;
}

type Stats = { rss: number; heapUsed: number; heapTotal: number };

export interface ClusterRow {
  connections: number; processes: number; note?: string; checkInterval?: number; semiSpace?: number;
  setupSeconds?: number; before?: Stats; idle?: Stats; after?: Stats;
  latency?: { p50: number; p99: number; p999: number; max: number; samples: number };
  sent?: number; expected?: number; received?: number;
  /** Subscriber connections the servers closed during the run. */
  closed?: number;
  redis?: { usedBefore: number; usedAfter: number; rss: number };
  /** CPU of the livehub processes (summed) while every connection is idle, in cores, over IDLE_SECONDS. */
  idleCores?: number;
  /** PSS summed over the livehub processes after the broadcasts, in bytes: each page shared by several processes counted once in all. */
  afterPss?: number;
}

const BROADCASTS = 5;
/** How long the idle CPU is measured, between the last connection subscribed and the first broadcast. */
const IDLE_SECONDS = 5;
const TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;
/** CPU seconds of a process so far, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}
/**
 * A process's proportional set size (bytes), from /proc: its private pages, plus each page it shares
 * divided by the processes that share it. Summed over processes, what they hold together, where their
 * RSS counts the node binary's code (about 42 MB, read-only and shared) once for every process.
 */
function pssOf(pid: number): number {
  return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN) * 1024;
}

/** Memory to leave free per connection (server, generator, both kernel socket ends; measured use is well under half). */
const BYTES_PER_CONNECTION = 40 * 1024;

async function statsOf(port: number): Promise<Stats> {
  const res = await fetch(`http://127.0.0.1:${port}/__bench/stats`, { signal: AbortSignal.timeout(30_000) });
  const { rss, heapUsed, heapTotal } = await res.json() as Stats;
  return { rss, heapUsed, heapTotal };
}
const sum = (all: Stats[]): Stats => ({
  rss: all.reduce((a, s) => a + s.rss, 0), heapUsed: all.reduce((a, s) => a + s.heapUsed, 0), heapTotal: all.reduce((a, s) => a + s.heapTotal, 0),
});

async function redisMemory(redis: Redis): Promise<{ used: number; rss: number }> {
  const info = await redis.info('memory');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return { used: field('used_memory'), rss: field('used_memory_rss') };
}

/**
 * bench/servers/livehub.ts and its stats module compiled to plain JavaScript in `dir`, so that each
 * process runs as a deployment runs the package: compiled, without tsx's loader, which adds about
 * 37 MB of RSS to every process (measured on this machine: 103 against 66 MB at start).
 */
function compileServer(dir: string): string {
  for (const name of ['livehub', 'stats']) {
    const { outputText } = ts.transpileModule(readFileSync(`bench/servers/${name}.ts`, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    writeFileSync(join(dir, `${name}.mjs`), outputText.replace("from './stats.js'", "from './stats.mjs'"));
  }
  return join(dir, 'livehub.mjs');
}

/** The processes needed so that each holds its share of the connections under the open-files limit. */
export function processesFor(connections: number, limit = hardFileLimit()): number {
  const perProcess = limit - SPARE_FILES;
  return Math.max(2, perProcess > 0 ? Math.ceil(connections / perProcess) : Infinity);
}

/** Percentile of sorted samples (µs) in ms. */
const at = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! / 1000;

export async function runW7Cluster(o: ClusterOptions): Promise<ClusterRow> {
  const processes = o.processes ?? processesFor(o.connections);
  if (o.semiSpace !== undefined && !(Number.isInteger(o.semiSpace) && o.semiSpace >= 1)) throw new TypeError(`W7 cluster: --w7-semi-space takes MB (1 or more), not ${o.semiSpace}`);
  const row: ClusterRow = { connections: o.connections, processes, checkInterval: o.checkInterval, semiSpace: o.semiSpace };
  const share = Math.ceil(o.connections / processes);
  if (share + SPARE_FILES > hardFileLimit()) {
    return { ...row, note: `skipped: ${share.toLocaleString('en-US')} connections per process need ${(share + SPARE_FILES).toLocaleString('en-US')} open files, the limit is ${hardFileLimit()}: more processes (--w7-processes)` };
  }
  const memory = o.connections * BYTES_PER_CONNECTION;
  if (freemem() < memory) return { ...row, note: `skipped: ${Math.round(memory / 2 ** 30)} GiB free memory wanted, ${Math.round(freemem() / 2 ** 30)} GiB free` };
  const limits = connectionLimits(o.connections);
  if (limits) console.error(`  W7 ${o.connections / 1000}k over ${processes} processes: this machine may hold back the connections: ${limits}`);

  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const env = { REDIS_URL: url, LIVEHUB_PREFIX: `lhbench-w7-${Date.now().toString(36)}` };
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'livehub-w7-'));
  const children: ChildProcess[] = [];
  // Any of them failing ends the run, saying which (a generator exits 0 once it has printed its RESULT).
  let died!: (error: Error) => void;
  const death = new Promise<never>((_, reject) => { died = reject; });
  death.catch(() => {});
  const alive = <T>(p: Promise<T>) => Promise.race([p, death]);
  const watch = (c: ChildProcess, what: string) => {
    children.push(c);
    c.once('exit', (code, signal) => { if (code !== 0) died(new Error(`${what} exited (${signal ?? code})`)); });
    return c;
  };
  try {
    await redis.connect();
    const server = compileServer(dir);
    const servers = Array.from({ length: processes }, (_, i) =>
      watch(o.spawnOn(o.serverCores, ['--expose-gc', ...(o.semiSpace ? [`--max-semi-space-size=${o.semiSpace}`] : []), server, '--codec', 'js', '--port', '0',
        ...(o.checkInterval ? ['--check-interval', String(o.checkInterval)] : [])], { ...env, LIVEHUB_BENCH_LIB: resolve('dist/pkg') }), `livehub process ${i}`));
    const ports = await alive(Promise.all(servers.map(async (s) => Number((await lines(s)('READY', 60_000)).split(' ')[1]))));
    const redisBefore = await redisMemory(redis);
    row.before = sum(await Promise.all(ports.map(statsOf)));

    // Generator i: subscribers first..first+count-1 on server i; the first one publishes, the others listen.
    const began = performance.now();
    const generators = ports.map((port, i) => {
      const first = i * share, count = Math.min(share, o.connections - first);
      const config: GenConfig & { listen: number; latencyFile: string } = {
        protocol: 'livehub', workload: 'W7', port, connections: count, first, size: 100, burst: 0, slowFraction: 0,
        rate: i === 0 ? 1 : 0, duration: BROADCASTS, listen: i === 0 ? 0 : BROADCASTS, latencyFile: join(dir, `latencies-${i}`),
      };
      return watch(o.spawnOn(o.generatorCore, [JSON.stringify(config)], {}, o.generator), `generator ${i}`);
    });
    const read = generators.map((g) => lines(g));
    await alive(Promise.all(read.map((r) => r('READY', 600_000))));
    row.setupSeconds = (performance.now() - began) / 1000;
    row.idle = sum(await Promise.all(ports.map(statsOf)));
    const cpuBefore = servers.reduce((a, s) => a + cpuSeconds(s.pid!), 0);
    await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
    row.idleCores = (servers.reduce((a, s) => a + cpuSeconds(s.pid!), 0) - cpuBefore) / IDLE_SECONDS;

    // The listeners first: their wait is counted from their START, the publisher's schedule from its own.
    for (const g of [...generators.slice(1), generators[0]!]) g.stdin!.write('START\n');
    await alive(Promise.all(read.map((r) => r('DRAINED', (BROADCASTS + 60) * 1000))));
    row.after = sum(await Promise.all(ports.map(statsOf)));
    row.afterPss = servers.reduce((a, s) => a + pssOf(s.pid!), 0);
    for (const g of generators) g.stdin!.write('FINISH\n');
    const results = await alive(Promise.all(read.map(async (r) => JSON.parse((await r('RESULT', 120_000)).slice(7)) as Record<string, number>)));
    row.sent = results[0]!.sent;
    row.expected = BROADCASTS * o.connections;
    row.received = results.reduce((a, r) => a + r.received!, 0);
    row.closed = results.reduce((a, r) => a + r.closedByServer!, 0);
    const parts = generators.map((_, i) => new BigInt64Array(new Uint8Array(readFileSync(join(dir, `latencies-${i}`))).buffer));
    const merged = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
    let k = 0;
    for (const part of parts) for (const v of part) merged[k++] = Number(v);
    merged.sort();
    if (merged.length > 0) row.latency = { p50: at(merged, 50), p99: at(merged, 99), p999: at(merged, 99.9), max: merged[merged.length - 1]! / 1000, samples: merged.length };
    const redisAfter = await redisMemory(redis);
    row.redis = { usedBefore: redisBefore.used, usedAfter: redisAfter.used, rss: redisAfter.rss };
    return row;
  } catch (error) {
    return { ...row, note: `failed: ${(error as Error).message}` };
  } finally {
    for (const c of children) { c.removeAllListeners('exit'); if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); }
    redis.disconnect();
    await dropKeysAfterRun(env.LIVEHUB_PREFIX, 'W7 at 100k');
    rmSync(dir, { recursive: true, force: true });
  }
}

const mb = (bytes: number, digits = 0) => (bytes / 2 ** 20).toFixed(digits);
const ms = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(1));

/** Loss as a percentage, with the count when some were lost (a few of 500,000 round to 0.00%). */
const lossText = (pct: number, lost: number) => (lost > 0 ? `${pct < 0.01 ? pct.toPrecision(2) : pct.toFixed(2)}% (${lost.toLocaleString('en-US')})` : '0.00%');

export function w7ClusterTable(row: ClusterRow): string {
  const k = row.connections / 1000;
  const label = `W7 ${k}k idle conns in c + their own channel, 5 broadcasts to all, ${row.processes} livehub (js) processes + Redis${row.checkInterval ? ` (checkInterval ${row.checkInterval / 1000} s)` : ''}${row.semiSpace ? `, node --max-semi-space-size=${row.semiSpace}` : ''}`;
  const out = [
    '| workload | connect conns/s | RSS MB (all processes) | RSS MB/1k conns | heap MB/1k conns | broadcast p50 ms | p99 ms | p99.9 ms | max ms | loss | Redis | note |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  if (!row.after || !row.before || !row.idle) return [...out, `| ${label} | – | – | – | – | – | – | – | – | – | – | ${row.note ?? ''} |`].join('\n');
  const loss = row.expected ? (100 * Math.max(0, row.expected - row.received!)) / row.expected : 0;
  const redis = row.redis ? `RSS ${mb(row.redis.rss)} MB, used_memory +${mb(row.redis.usedAfter - row.redis.usedBefore, 1)} MB` : '–';
  const note = `${row.processes} × ≤${Math.ceil(row.connections / row.processes).toLocaleString('en-US')} connections, one C generator process each; ` +
    (row.afterPss ? `PSS summed (the pages the processes share, the node binary's code above all, counted once): ${mb(row.afterPss)} MB, ${mb(row.afterPss / k, 2)} MB per 1k; ` : '') +
    `per 1k over the processes' own start: RSS ${mb((row.after.rss - row.before.rss) / k, 2)} MB (idle, before the broadcasts: ` +
    `${mb((row.idle.rss - row.before.rss) / k, 2)} MB), heap ${mb((row.after.heapUsed - row.before.heapUsed) / k, 2)} MB used; ` +
    `idle CPU ${row.idleCores?.toFixed(2) ?? '–'} cores (summed; the Redis engine compares every channel's position with Redis's every ` +
    `${(row.checkInterval ?? 2000) / 1000} s${row.checkInterval ? ', --w7-check-interval' : ', its default'}); ` +
    `${row.received!.toLocaleString('en-US')} of ${row.expected!.toLocaleString('en-US')} deliveries, ${row.latency?.samples.toLocaleString('en-US') ?? 0} timed` +
    (row.closed ? `, ${row.closed} connections closed by the servers` : '') +
    (row.received! < row.expected! ? ' (a subscription refused while Redis was slow, answered \'unavailable\', also loses its deliveries: see the servers\' log)' : '') +
    (row.note ? `; ${row.note}` : '');
  out.push(`| ${label} | ${Math.round(row.connections / row.setupSeconds!).toLocaleString('en-US')} | ${mb(row.after.rss)} | ${mb(row.after.rss / k, 2)} | ` +
    `${mb(row.after.heapUsed / k, 2)} | ${ms(row.latency?.p50)} | ${ms(row.latency?.p99)} | ${ms(row.latency?.p999)} | ${ms(row.latency?.max)} | ${lossText(loss, row.expected! - row.received!)} | ${redis} | ${note} |`);
  return out.join('\n');
}
