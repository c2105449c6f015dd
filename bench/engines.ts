import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { benchDatabase, POSTGRES } from './bench-db.js';
import { runStorms, stormTable, type StormRow } from './storm-run.js';
import { dropKeysAfterRun } from './redis-keys.js';

/**
 * W9, the engines side by side (memory, Redis, PostgreSQL), in one run:
 *
 * - durable publishes/s on one channel and on 1,000 (bench/servers/engine-load.ts: `engine.publish`
 *   with 256 calls in flight, on core 0; Redis and PostgreSQL are the machine's servers, not pinned);
 * - publish-to-delivery p50/p99 at half of that engine's one-channel rate, from one node to another
 *   (a second process, on core 1);
 * - the time for 10,000 clients to recover after every node restarts (W8's storm, bench/storm-run.ts,
 *   with one node on that engine killed and started again), and what they lost.
 *
 *   npm run bench -- --only W9 [--duration 5] [--storm-connections 10000]
 */

export const ENGINES = ['memory', 'redis', 'postgres'] as const;
export type EngineName = typeof ENGINES[number];
const LABEL: Record<EngineName, string> = { memory: 'memory', redis: 'Redis', postgres: 'PostgreSQL (group commit)' };

export interface EngineLoad {
  engine: EngineName; window: number; channels: number;
  one: { perSecond: number; failed: number }; many: { perSecond: number; failed: number };
  latency: { rate: number; sent: number; failed: number; delivered: number; p50: number | null; p99: number | null; max: number | null };
}

export interface EngineRows { loads: Array<{ engine: EngineName; load?: EngineLoad; note?: string }>; storms: StormRow[]; settings: string }

/** The first line of a child's output that starts with `prefix`. */
function lineOf(child: ChildProcess, prefix: string, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${prefix.trim()} within ${timeoutMs / 1000} s`)), timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (l) => { if (l.startsWith(prefix)) { clearTimeout(timer); lines.close(); resolve(l); } });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`engine-load exited with ${code}`)); });
  });
}

/** What the machine's Redis and PostgreSQL keep on disk (the table's note on "durable"). */
function settings(): string {
  const redis = spawnSync('redis-cli', ['config', 'get', 'appendonly']).stdout?.toString().split('\n')[1]?.trim();
  const save = spawnSync('redis-cli', ['config', 'get', 'save']).stdout?.toString().split('\n')[1]?.trim();
  const pgSettings = spawnSync('psql', [POSTGRES, '-Atc', "select current_setting('synchronous_commit') || ', fsync ' || current_setting('fsync') || ', ' || version()"]).stdout?.toString().trim();
  return `Redis: appendonly ${redis || '?'}, save '${save ?? '?'}'; PostgreSQL: synchronous_commit ${pgSettings || '?'}`;
}

export async function runEngines(o: {
  duration: number; connections: number; rate: number;
  spawnOn: (core: number, args: string[], env: Record<string, string>, program?: string) => ChildProcess; generatorCore: number;
}): Promise<EngineRows> {
  const loads: EngineRows['loads'] = [];
  for (const engine of ENGINES) {
    const db = engine === 'postgres' ? await benchDatabase() : null;
    const env: Record<string, string> = engine === 'redis'
      ? { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', LIVEHUB_PREFIX: `lhbench-${Date.now().toString(36)}` }
      : db ? { DATABASE_URL: db.url } : {};
    const began = Date.now();
    const channel = `lat-${Date.now().toString(36)}`;
    // The second node, on the generator's core, subscribed before the first publishes.
    const subscriber = engine === 'memory' ? null
      : o.spawnOn(o.generatorCore, ['--import', 'tsx', 'bench/servers/engine-load.ts', '--engine', engine, '--subscribe', channel], env);
    const child = o.spawnOn(0, ['--import', 'tsx', 'bench/servers/engine-load.ts', '--engine', engine, '--duration', String(o.duration), '--latency-channel', channel], env);
    try {
      if (subscriber) await lineOf(subscriber, 'READY', 60_000);
      const load = JSON.parse((await lineOf(child, 'RESULT ', 300_000)).slice(7)) as EngineLoad;
      if (subscriber) {
        subscriber.stdin!.write(`EXPECT ${load.latency.sent - load.latency.failed}\n`);
        Object.assign(load.latency, JSON.parse((await lineOf(subscriber, 'RESULT ', 60_000)).slice(7)));
      }
      loads.push({ engine, load });
      console.error(`  W9 engines — ${LABEL[engine]}: ${((Date.now() - began) / 1000).toFixed(1)} s (one channel ${Math.round(load.one.perSecond)}/s, ` +
        `1k channels ${Math.round(load.many.perSecond)}/s, p99 ${load.latency.p99?.toFixed(1)} ms at ${load.latency.rate}/s)`);
    } catch (error) {
      loads.push({ engine, note: `failed: ${(error as Error).message}` });
    } finally {
      for (const c of [child, subscriber]) if (c && c.exitCode === null) c.kill('SIGKILL');
      if (env.LIVEHUB_PREFIX) await dropKeysAfterRun(env.LIVEHUB_PREFIX, 'W9');
      await db?.drop();
    }
  }
  const storms = await runStorms({
    connections: o.connections, rate: o.rate, group: 100, spawnOn: o.spawnOn, generatorCore: o.generatorCore,
  }, undefined, undefined, true);
  return { loads, storms, settings: settings() };
}

const fmt = (n: number | null | undefined, digits = 0) =>
  n === null || n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function enginesTable(rows: EngineRows, o: { connections: number; rate: number }): string {
  const redis = rows.loads.find((l) => l.engine === 'redis')?.load;
  const storm = (engine: EngineName) => rows.storms.find((s) => s.engine === engine);
  const out = [
    'W9, the engines side by side (bench/engines.ts). Publishes/s: `engine.publish` with 256 calls in flight from one process on core 0 ' +
    '(100-byte payloads; history 100 messages, 5 minutes). Latency: a second node of the engine in a process of its own on core 1 ' +
    `(the memory engine: the same node) subscribed, publishes paced each millisecond at half of the engine's own one-channel rate (at most 20,000/s, what one process paces: the memory engine's half is far past it). Restart: W8's storm, ${o.connections} clients on one node ` +
    `with that engine, ${o.rate} publishes/s from a publisher on it, the node SIGKILLed and started again (it is every node); lost: acked ` +
    `publishes some client never got. ${rows.settings}.`,
    '',
    '| engine | publishes/s, one channel | publishes/s, 1k channels | × Redis (one channel) | at half capacity, publishes/s | p50 ms | p99 ms | delivered | restart: back 99% s | back 100% s | recovered | lost | doubled | note |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |',
  ];
  for (const { engine, load, note } of rows.loads) {
    const s = storm(engine), r = s?.result;
    const ratio = load && redis ? load.one.perSecond / redis.one.perSecond : null;
    const failed = load ? load.one.failed + load.many.failed + load.latency.failed : 0;
    const notes = [note, failed ? `${fmt(failed)} publishes failed` : '', s?.note ?? '', engine === 'memory' ? 'not durable: history lives in the node' : ''].filter(Boolean).join('; ');
    out.push(`| ${LABEL[engine]} | ${fmt(load?.one.perSecond)} | ${fmt(load?.many.perSecond)} | ${fmt(ratio, 2)} | ${fmt(load?.latency.rate)} | ${fmt(load?.latency.p50, 1)} | ` +
      `${fmt(load?.latency.p99, 1)} | ${load ? `${fmt(load.latency.delivered)}/${fmt(load.latency.sent - load.latency.failed)}` : '–'} | ` +
      `${fmt(r && r.t99Ms >= 0 ? r.t99Ms / 1000 : null, 1)} | ${fmt(r && r.t100Ms >= 0 ? r.t100Ms / 1000 : null, 1)} | ` +
      `${r ? `${fmt(r.recovered)}/${fmt(r.recovered + r.notRecovered)} channels` : '–'} | ${fmt(r?.lost)} | ${fmt(r?.doubled)} | ${notes} |`);
  }
  return `${out.join('\n')}\n\nThe restart runs in detail:\n\n${stormTable(rows.storms)}`;
}
