import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { createServer } from 'node:net';
import { lines } from './child-lines.js';
import { dropKeysAfterRun } from './redis-keys.js';
import { benchDatabase } from './bench-db.js';

/**
 * W8, the reconnect storm: 10k connections, each subscribed to its own channel and its
 * group's (100 members), a publisher at a steady rate on a node that stays up where there is one,
 * then the node holding every subscriber is restarted (SIGTERM: what a deploy sends, livehub stops
 * listening and drains with 1012, spread over 5 s with Redis and at once on the memory engine,
 * where no other node can take the clients; SIGKILL: a crash) and started again on its port. The
 * generator (bench/storm.c) reconnects each connection as its real client would and counts what never came
 * (lost) and what came twice (doubled), by the publisher's per-channel sequence numbers.
 *
 *   npm run bench -- --only W8 [--servers js,socket] [--storm-connections 10000] [--storm-rate 500] [--storm-signal SIGTERM]
 *   node --import tsx bench/storm-run.ts [the same options]   W8 alone
 *   --storm-nodes 1|2: only the cases with that many nodes (node --import tsx bench/storm-run.ts alone)
 *   --storm-prof DIR: the server nodes run with --cpu-prof (profiles in DIR, written as they exit: SIGUSR2 at the end)
 */

export interface StormCase {
  server: string;
  /** bench/servers/<script>; `nodes` of them, the first restarted. */
  script: string;
  protocol: 'livehub' | 'socketio';
  nodes: 1 | 2;
  signal: 'SIGTERM' | 'SIGKILL';
  /** Server arguments of its own (livehub-storm.ts's --backlog). */
  args?: string[];
  note?: string;
  /** W9 (bench/engines.ts): the node's engine; these cases run only there. */
  engine?: 'memory' | 'redis' | 'postgres';
}

const LH = 'livehub (js)';
const LH2 = 'livehub (js) ×2 nodes + Redis';
const SIO = 'Socket.IO 4.8, connection-state recovery';
const SIO2 = 'Socket.IO 4.8 ×2 nodes + Redis Streams adapter, recovery';
export const STORM_CASES: StormCase[] = [
  { server: LH, script: 'livehub-storm.ts', protocol: 'livehub', nodes: 1, signal: 'SIGTERM' },
  { server: LH, script: 'livehub-storm.ts', protocol: 'livehub', nodes: 1, signal: 'SIGKILL' },
  { server: LH2, script: 'livehub-storm.ts', protocol: 'livehub', nodes: 2, signal: 'SIGTERM' },
  { server: LH2, script: 'livehub-storm.ts', protocol: 'livehub', nodes: 2, signal: 'SIGKILL' },
  // The same with a listen queue of 4096, as docs/operations.md tells livehub's users to listen (Node's default is 511;
  // Linux caps it at net.core.somaxconn): a full queue drops SYNs, which the clients' kernels resend after 1, 3, 7 s,
  // and some attempts pass the client's 10 s deadline. Socket.IO's one-node row is run with it too, for the same footing.
  { server: `${LH}, listen backlog 4096`, script: 'livehub-storm.ts', protocol: 'livehub', nodes: 1, signal: 'SIGTERM', args: ['--backlog', '4096'] },
  { server: `${LH2}, listen backlog 4096`, script: 'livehub-storm.ts', protocol: 'livehub', nodes: 2, signal: 'SIGTERM', args: ['--backlog', '4096'] },
  { server: `${LH2}, listen backlog 4096`, script: 'livehub-storm.ts', protocol: 'livehub', nodes: 2, signal: 'SIGKILL', args: ['--backlog', '4096'] },
  { server: SIO, script: 'socketio-recovery.ts', protocol: 'socketio', nodes: 1, signal: 'SIGTERM',
    note: 'recovery does not apply: a restarted node has lost its sessions (in-memory adapter); clients get new sessions and subscribe again' },
  { server: `${SIO}, listen backlog 4096`, script: 'socketio-recovery.ts', protocol: 'socketio', nodes: 1, signal: 'SIGTERM', args: ['--backlog', '4096'],
    note: 'recovery does not apply (in-memory adapter, see above)' },
  { server: SIO2, script: 'socketio-recovery.ts', protocol: 'socketio', nodes: 2, signal: 'SIGTERM' },
  { server: SIO2, script: 'socketio-recovery.ts', protocol: 'socketio', nodes: 2, signal: 'SIGKILL' },
  // W9: one node, which is every node, on each engine, killed and started again.
  { server: `${LH}, memory engine`, script: 'livehub-storm.ts', protocol: 'livehub', nodes: 1, signal: 'SIGKILL', engine: 'memory' },
  { server: `${LH}, Redis engine`, script: 'livehub-storm.ts', protocol: 'livehub', nodes: 1, signal: 'SIGKILL', engine: 'redis' },
  { server: `${LH}, PostgreSQL engine`, script: 'livehub-storm.ts', protocol: 'livehub', nodes: 1, signal: 'SIGKILL', engine: 'postgres' },
];

export interface StormOptions {
  connections: number;
  /** Publishes a second: half to groups (round robin), half to personal channels. */
  rate: number;
  group: number;
  /** Spawns a program on a core (the runner's pinning). */
  spawnOn: (core: number, args: string[], env: Record<string, string>, program?: string) => ChildProcess;
  generatorCore: number;
  /** Extra arguments for the server nodes (e.g. livehub-storm.ts's --backlog). */
  serverArgs?: string[];
  /** A directory: the server nodes run with --cpu-prof and exit by SIGTERM at the end, writing their profiles there. */
  prof?: string;
}

/** What bench/storm.c prints after RESULT (deliveries: one message to one subscriber). */
export interface StormResult {
  connections: number; t99Ms: number; t100Ms: number; back: number; stillDown: number; recovered: number; notRecovered: number;
  lost: number; lostBeforeRestart: number; lostAfterRestart: number; unackedMissing: number; doubled: number; gaps: number;
  published: number; acked: number; queued: number; resent: number; attempts: number; refused: number; httpRefused: number; connectTimeouts: number;
  subscribeErrors: number; subscribeTimeouts: number; resets: number; redrops: number; generatorCpuSeconds: number;
}

export interface StormRow {
  label: string; server: string; signal: string; engine?: StormCase['engine']; result?: StormResult; peakRssMb?: number; cpuSeconds?: number;
  generatorCpuPct?: number; restartMs?: number; listenOverflows?: number; timeWait?: number; cpuSplit?: string; note?: string;
}

const CACHE = 'node_modules/.cache/livehub-bench';
const SNAPSHOT = `${CACHE}/dist-w8`;
const SOURCES = ['bench/storm.c', 'bench/storm-proto.c', 'bench/storm-count.c', 'bench/wire.c', 'bench/sse.c'];
const TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;
const WARM_MS = 3000, AFTER_MS = 3000, STORM_TIMEOUT_MS = 90_000;

function buildGenerator(): string | { skipped: string } {
  mkdirSync(CACHE, { recursive: true });
  const program = `${CACHE}/storm`;
  const built = spawnSync('cc', ['-O2', '-o', program, ...SOURCES], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (built.status === 0) return program;
  return { skipped: built.error ? 'skipped: the storm generator (bench/storm.c) needs a C compiler (cc)'
    : `skipped: building the storm generator failed (cc ${SOURCES.join(' ')}; its errors are above)` };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}


/** CPU seconds, RSS and its high-water mark (MB) from /proc; null once the process is gone. */
function proc(pid: number): { cpu: number; rss: number; hwm: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
    return { cpu: (Number(f[11]) + Number(f[12])) / TICKS, rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** The kernel's count of connections dropped because a listen queue was full (all sockets on the machine). */
function listenOverflows(): number {
  const rows = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = rows[0]?.split(/\s+/) ?? [], values = rows[1]?.split(/\s+/) ?? [];
  return Number(values[names.indexOf('ListenOverflows')] ?? 0);
}

/**
 * Sockets in TIME_WAIT on the machine: a workload just before (W7's 100,000 connections) leaves up
 * to the kernel's cap of them (net.ipv4.tcp_max_tw_buckets) for a minute; a row says the state of
 * the machine's TCP it ran in.
 */
function timeWaits(): number {
  return Number(/\btw (\d+)/.exec(readFileSync('/proc/net/sockstat', 'utf8'))?.[1] ?? 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const exited = (child: ChildProcess) => new Promise<void>((resolve) => {
  if (child.exitCode !== null || child.signalCode !== null) resolve(); else child.once('exit', () => resolve());
});
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited(child);
}

async function runCase(c: StormCase, o: StormOptions, program: string): Promise<StormRow> {
  const label = `W8 ${o.connections / 1000}k conns × (own + group of ${o.group}), ${o.rate}/s, node restarted`;
  const row: StormRow = { label, server: c.server, signal: c.signal, engine: c.engine };
  const tag = `storm-${Date.now().toString(36)}`;
  const env: Record<string, string> = c.nodes === 2 || c.engine === 'redis'
    ? { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', LIVEHUB_PREFIX: tag, SIO_STREAM: tag } : {};
  const db = c.engine === 'postgres' ? await benchDatabase() : null;
  if (db) env.DATABASE_URL = db.url;
  env.LIVEHUB_STORM_LIB = resolve(SNAPSHOT, 'pkg');
  const ports = await Promise.all(Array.from({ length: c.nodes }, () => freePort()));
  const prof = o.prof ? ['--cpu-prof', `--cpu-prof-dir=${o.prof}`] : [];
  const startNode = (port: number) => o.spawnOn(0, [...prof, '--import', 'tsx', `bench/servers/${c.script}`, '--port', String(port), ...(c.args ?? []), ...(o.serverArgs ?? [])], env);
  const nodes = ports.map(startNode);
  let generator: ChildProcess | null = null;
  let sampler: NodeJS.Timeout | null = null;
  try {
    row.timeWait = timeWaits();
    await Promise.all(nodes.map((n, i) => lines(n)('READY', 60_000).catch(() => { throw new Error(`node ${i} did not start within 60 s`); })));
    const config = {
      protocol: c.protocol, ports, home: 0, publisherNode: c.nodes - 1, failover: c.nodes > 1 ? 1 : 0,
      connections: o.connections, group: o.group, rate: o.rate,
    };
    generator = o.spawnOn(o.generatorCore, [JSON.stringify(config)], {}, program);
    const gen = lines(generator);
    await gen('READY', 300_000);
    generator.stdin!.write('START\n');
    await sleep(WARM_MS);

    // The storm: CPU from the kill until every connection is back, RSS sampled every 100 ms.
    const old = nodes[0]!;
    const cpuAtMark = new Map<number, number>();
    const lastCpu = new Map<number, number>();
    for (const n of nodes) cpuAtMark.set(n.pid!, proc(n.pid!)?.cpu ?? 0);
    const genAtMark = proc(generator.pid!)?.cpu ?? 0;
    const taking = () => (c.nodes === 2 ? [nodes[1]!, nodes[0]!] : [nodes[0]!]); // nodes the clients reconnect to
    let peak = 0;
    const sample = () => {
      for (const n of [old, ...nodes]) {
        const p = proc(n.pid!);
        if (!p) continue;
        lastCpu.set(n.pid!, p.cpu);
        if (n !== old && taking().includes(n)) peak = Math.max(peak, p.rss);
      }
    };
    sampler = setInterval(sample, 100);
    const markedAt = Date.now();
    const overflows = listenOverflows();
    generator.stdin!.write('MARK\n');
    old.kill(c.signal);
    await exited(old);
    const down = Date.now();
    nodes[0] = startNode(ports[0]!);
    await lines(nodes[0])('READY', 60_000).catch(() => { throw new Error('the restarted node did not start within 60 s'); });
    row.restartMs = Date.now() - down;
    let timedOut = false;
    await gen('BACK 100', Math.max(1000, STORM_TIMEOUT_MS - (Date.now() - markedAt))).catch(() => { timedOut = true; });
    sample();
    row.listenOverflows = listenOverflows() - overflows;
    clearInterval(sampler);
    sampler = null;
    const used = [...cpuAtMark].map(([pid, at]) => (lastCpu.get(pid) ?? at) - at); // [old node, other node]
    const restarted = lastCpu.get(nodes[0]!.pid!) ?? 0; // the restarted process, from its start
    const cpu = used.reduce((a, b) => a + b, 0) + restarted;
    row.cpuSplit = `CPU s: stopped node ${fmt(used[0], 1)}, restarted ${fmt(restarted, 1)}` + (used.length > 1 ? `, other node ${fmt(used[1], 1)}` : '');
    for (const n of taking()) peak = Math.max(peak, proc(n.pid!)?.hwm ?? 0);
    row.peakRssMb = peak;
    row.cpuSeconds = cpu;
    const wall = (Date.now() - markedAt) / 1000;
    row.generatorCpuPct = (100 * ((proc(generator.pid!)?.cpu ?? genAtMark) - genAtMark)) / wall;
    await sleep(AFTER_MS);
    generator.stdin!.write('STOP\n');
    row.result = JSON.parse((await gen('RESULT', 30_000)).slice(7)) as StormResult;
    const notes = [c.note, timedOut ? `not all back within ${STORM_TIMEOUT_MS / 1000} s` : undefined].filter(Boolean);
    if (notes.length) row.note = notes.join('; ');
  } catch (error) {
    row.note = `failed: ${(error as Error).message}`;
  } finally {
    if (sampler) clearInterval(sampler);
    if (generator) await stop(generator);
    if (o.prof) { // an exit writes the profile
      for (const n of nodes) n.kill('SIGUSR2');
      await Promise.race([Promise.all(nodes.map(exited)), sleep(20_000)]);
    }
    await Promise.all(nodes.map(stop));
    if (env.REDIS_URL) await dropKeysAfterRun(tag, `storm, ${c.server}`);
    await db?.drop().catch((error: unknown) => console.error(`livehub bench W9: could not drop the bench database: ${(error as Error).message}`));
  }
  return row;
}

const fmt = (n: number | undefined | null, digits = 0) =>
  n === undefined || n === null || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function stormTable(rows: StormRow[], o?: Pick<StormOptions, 'connections' | 'rate' | 'group'>): string {
  const out = [
    ...(o ? [`W8, the reconnect storm (bench/storm-run.ts): ${o.connections} connections, each on its own channel and its group's ` +
      `(${o.group} members), all on the node that is stopped, ${o.rate} publishes/s (half to groups) from a publisher on the other ` +
      'node where there is one; the node is stopped (SIGTERM: livehub stops listening and drains, 1012 spread over 5 s with Redis, all at once on one ' +
      'memory-engine node, hub.drain()\'s defaults; Socket.IO io.close(); SIGKILL: a crash) ' +
      'and started again on its port. Clients reconnect as theirs do: livehub\'s client waits random [0, min(30 s, 500 ms × 2^n)) ' +
      '(full jitter; for 10 s after a 1012 close the ceiling stops at 2 s, reconnect.restartWindow), connect deadline 10 s, resubscribes with since; socket.io-client waits 1 s × 2^n ± 50%, at most 5 s, ' +
      'open deadline 20 s, reconnects with its session id and last offset; with two nodes, each new attempt goes to the next node ' +
      '(a load balancer routing around the dead one). Back: subscribed on both channels again. Lost / doubled: deliveries of acked ' +
      'publishes (by per-channel sequence numbers) that never came / came twice. Servers on core 0, generator (bench/storm.c, C, epoll) on core 1.', ''] : []),
    '| workload | server | restart | back 99% s | back 100% s | recovered | lost | doubled | peak RSS MB | server CPU s | note |',
    '| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const row of rows) {
    const r = row.result;
    const sio = row.server.startsWith('Socket.IO');
    const resumed = r ? r.recovered + r.notRecovered : 0;
    const recovered = !r ? '–' : sio ? `${fmt(r.recovered / 2)}/${fmt(resumed / 2)} sessions` : `${fmt(r.recovered)}/${fmt(resumed)} channels`;
    const notes = [row.note,
      r && r.stillDown > 0 ? `${fmt(r.stillDown)} never back` : '',
      r && row.signal && r.lost > 0 && !row.server.includes('×2') ? `lost: ${fmt(r.lostBeforeRestart)} published on the old node after the subscriber left it, ${fmt(r.lostAfterRestart)} on the new node before it resubscribed` : '',
      r && r.redrops > 0 ? `${fmt(r.redrops)} dropped again after coming back` : '',
      r && r.unackedMissing > 0 ? `${fmt(r.unackedMissing)} missing deliveries of publishes never acked` : '',
      r && r.subscribeErrors > 0 ? `${fmt(r.subscribeErrors)} error frames (subscribes retried)` : '',
      r && r.subscribeTimeouts > 0 ? `${fmt(r.subscribeTimeouts)} subscribe answers later than 10 s (resent)` : '',
      r ? `${fmt(r.acked)}/${fmt(r.published)} publishes acked` + (r.queued ? `, ${fmt(r.queued)} waited while the publisher was cut off` : '') +
        (r.resent ? `, ${fmt(r.resent)} resent unacked` : '') : '',
      r ? `${fmt(r.attempts)} connection attempts (${fmt(r.refused)} refused, ${fmt(r.httpRefused)} answered non-101, ${fmt(r.connectTimeouts)} timed out)` : '',
      row.listenOverflows ? `${fmt(row.listenOverflows)} SYNs dropped on a full listen queue` : '',
      row.restartMs !== undefined ? `node back up ${fmt(row.restartMs / 1000, 1)} s after it exited` : '',
      row.cpuSplit ?? '',
      row.generatorCpuPct !== undefined ? `generator ${fmt(row.generatorCpuPct)}% of a core` : '',
      row.timeWait !== undefined ? `${fmt(row.timeWait)} sockets in TIME_WAIT on the machine at the start` : '',
    ].filter(Boolean).join('; ');
    out.push(`| ${row.label} | ${row.server} | ${row.signal} | ${fmt(r && r.t99Ms >= 0 ? r.t99Ms / 1000 : null, 1)} | ${fmt(r && r.t100Ms >= 0 ? r.t100Ms / 1000 : null, 1)} | ${recovered} | ${fmt(r?.lost)} | ${fmt(r?.doubled)} | ${fmt(row.peakRssMb)} | ${fmt(row.cpuSeconds, 1)} | ${notes} |`);
  }
  return out.join('\n');
}

/**
 * Runs the storm cases whose server name contains one of `servers` (all without it), one after another;
 * `engines`: W9's cases (one node per engine) instead of W8's; `nodes`: only the cases with that many nodes.
 */
export async function runStorms(o: StormOptions, servers?: string[], signal?: string, engines = false, nodes?: number): Promise<StormRow[]> {
  const cases = STORM_CASES.filter((c) => (!servers || servers.some((s) => c.server.toLowerCase().includes(s.toLowerCase()))) &&
    (!signal || c.signal === signal) && (c.engine !== undefined) === engines && (nodes === undefined || c.nodes === nodes));
  const program = buildGenerator();
  const rows: StormRow[] = [];
  if (cases.some((c) => c.script.startsWith('livehub'))) {
    // A copy of dist/ taken now (under node_modules, so its imports resolve): a node restarted mid-run must not load
    // a dist/ that another `npm run build:lib` is replacing at that moment.
    if (!existsSync('dist/pkg/index.js')) throw new Error('livehub bench W8: dist/ is missing; run npm run build:lib first');
    rmSync(SNAPSHOT, { recursive: true, force: true });
    cpSync('dist', SNAPSHOT, { recursive: true });
  }
  for (const c of cases) {
    if (typeof program !== 'string') { rows.push({ label: 'W8', server: c.server, signal: c.signal, note: program.skipped }); continue; }
    const began = Date.now();
    const row = await runCase(c, o, program);
    rows.push(row);
    const r = row.result;
    console.error(`  W8 — ${c.server}, ${c.signal}: ${((Date.now() - began) / 1000).toFixed(1)} s` +
      (r ? ` (99% back ${(r.t99Ms / 1000).toFixed(1)} s, 100% ${(r.t100Ms / 1000).toFixed(1)} s, lost ${r.lost}, doubled ${r.doubled})` : '') +
      (row.note ? ` ${row.note}` : ''));
  }
  return rows;
}

/** The runner's pinning (taskset), for running this module alone: node --import tsx bench/storm-run.ts */
export function spawnWith(pinning: boolean) {
  return (core: number, args: string[], env: Record<string, string>, program = process.execPath): ChildProcess =>
    spawn(pinning ? 'taskset' : program, pinning ? ['-c', String(core), program, ...args] : args,
      { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] : undefined; };
  const pinning = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  const nodes = arg('--storm-nodes') === undefined ? undefined : Number(arg('--storm-nodes'));
  if (nodes !== undefined && nodes !== 1 && nodes !== 2) throw new TypeError(`livehub bench W8: --storm-nodes takes 1 or 2, not ${arg('--storm-nodes')}`);
  const rows = await runStorms({
    connections: Number(arg('--storm-connections') ?? 10_000), rate: Number(arg('--storm-rate') ?? 200), group: 100,
    spawnOn: spawnWith(pinning), generatorCore: pinning ? 1 : 0, prof: arg('--storm-prof'),
    serverArgs: arg('--storm-server-args')?.split(' '),
  }, arg('--servers')?.split(','), arg('--storm-signal'), false, nodes);
  console.log(stormTable(rows, { connections: Number(arg('--storm-connections') ?? 10_000), rate: Number(arg('--storm-rate') ?? 200), group: 100 }));
}
