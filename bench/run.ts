import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { createInterface } from 'node:readline';
import { goServer } from './go-servers.js';
import type { GenConfig } from './loadgen.js';
import { ALL, JS, kindsFor, SERVERS, type Scenario, type ServerKind } from './matrix.js';
import { breakdownTable, takeProfile } from './profile.js';
import { planW7 } from './w7.js';
import { combine, runCount } from './repeat.js';
import { table, type Row } from './table.js';
import { runStorms, stormTable } from './storm-run.js';
import { enginesTable, runEngines } from './engines.js';
import { mqttTable, runMqtt } from './mqtt-run.js';
import { coresNote, coreList } from './cores.js';
import { runW7Cluster, w7ClusterTable } from './w7-cluster.js';
import { dropKeysAfterRun } from './redis-keys.js';

/**
 * `npm run bench`: starts each server on one core and the load generator on the other, runs the
 * workloads, and prints a markdown table (bench/table.ts) with ratios against the naive ws hub and the
 * C reference server, each figure the median of `--runs` runs (bench/repeat.ts).
 *
 *   npm run bench                       the default matrix
 *   npm run bench -- --quick            W1 at 1k subscribers and W5 only
 *   npm run bench -- --only W8          W8, the reconnect storm (bench/storm-run.ts; also run by --storm after the others)
 *   npm run bench -- --only W9          W9, the engines (memory, Redis, PostgreSQL) side by side (bench/engines.ts)
 *   npm run bench -- --only W7          W7, and after its table 100k connections over several livehub processes and Redis
 *                                       (bench/w7-cluster.ts; --w7-connections N, --w7-processes N, --w7-check-interval MS,
 *                                       --w7-semi-space MB: V8's young generation of every process)
 *   npm run bench -- --only W10         W10, MQTT fan-out: livehub, Mosquitto 2 and aedes (bench/mqtt-run.ts; --mqtt-rate N, --mqtt-low-rate N)
 *   npm run bench -- --only W1,W4       some workloads (or rows, by the start of their label, several
 *                                       separated by ';': --only "W1 1k subs × 1000/s × 100 B;W5")
 *   npm run bench -- --duration 10      seconds of publishing per run (default 5)
 *   npm run bench -- --runs 5           runs of every row; the table shows medians and spreads (default 3, --quick 1)
 *   npm run bench -- --servers js,naive  servers whose name contains one of these ("=livehub (js)": that name only)
 *   npm run bench -- --servers sse      the Server-Sent Events rows (livehub's and the naive fan-out's)
 *   npm run bench -- --only W3 --servers js,naive,centrifuge
 *   npm run bench -- --profile          livehub's servers under V8's CPU profiler; after the table, where
 *                                       each row's CPU went per publish, delivery and write (bench/profile.ts)
 *   npm run bench -- --baseline ../old  also an earlier checkout's livehub (js), built there, against today's
 *   npm run bench -- --generator node   the Node load generator (default: the C one, bench/loadgen.c,
 *                                       built with cc on first use; Node's when there is no compiler)
 */

const RSS_GUARD = 3 * 1024 ** 3;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const duration = Number(arg('--duration') ?? 5);
const RUNS = runCount(process.argv);
function selected(): Scenario[] {
  if (process.argv.includes('--quick')) return ALL.filter((s) => s.label.startsWith('W1 1k subs × 1000/s × 100') || s.config.workload === 'W5');
  const only = arg('--only')?.split(';').flatMap((o) => (/^W\d+(,W\d+)*$/.test(o) ? o.split(',') : [o]));
  return only ? ALL.filter((s) => only.some((o) => o === s.config.workload || s.label.startsWith(o))) : ALL;
}

const cores = cpus().length;
const pinning = cores >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

function spawnPinned(core: number | string, args: string[], env: Record<string, string> = {}, program = process.execPath): ChildProcess {
  const command = pinning ? 'taskset' : program;
  const full = pinning ? ['-c', String(core), program, ...args] : args;
  return spawn(command, full, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
}

/**
 * The load generator: bench/loadgen.c (with wire.c, publisher.c and sse.c), compiled once into
 * node_modules/.cache, unless there is no C compiler or `--generator node` asks for bench/loadgen.ts.
 * Both speak the same stdio conversation.
 */
const CACHE = 'node_modules/.cache/livehub-bench';
const C_SOURCES = ['bench/loadgen.c', 'bench/wire.c', 'bench/publisher.c', 'bench/sse.c', 'bench/centrifuge.c'];
function loadGenerator(): { name: string; program: string; native: boolean; args: (config: GenConfig) => string[] } {
  const node = { name: 'one Node process, raw sockets (bench/loadgen.ts)', program: process.execPath, native: false, args: (c: GenConfig) => ['--import', 'tsx', 'bench/loadgen.ts', JSON.stringify(c)] };
  if (arg('--generator') === 'node') return node;
  const program = `${CACHE}/loadgen`;
  mkdirSync(CACHE, { recursive: true });
  const built = spawnSync('cc', ['-O2', '-pthread', '-o', program, ...C_SOURCES], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (built.status !== 0) {
    console.error('livehub bench: no C compiler (cc) or the build failed; using the Node load generator');
    return node;
  }
  return { name: 'C, epoll, one thread receiving and one publishing (bench/loadgen.c)', program, native: true, args: (c: GenConfig) => [JSON.stringify(c)] };
}
const generatorKind = loadGenerator();

/** livehub's servers run the compiled package (dist/), as users do: built once per run. */
function buildPackage(): void {
  const built = spawnSync('npm', ['run', 'build:lib'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) throw new Error('livehub bench: npm run build:lib failed; the livehub servers run the compiled package (dist/)');
}

function lineReader(child: ChildProcess) {
  const lines = createInterface({ input: child.stdout! });
  const queue: string[] = [];
  let waiting: ((line: string) => void) | null = null;
  lines.on('line', (line) => { if (waiting) { const w = waiting; waiting = null; w(line); } else queue.push(line); });
  return (prefix: string, timeoutMs = 120_000) => new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${prefix}`)), timeoutMs);
    const take = (line: string) => {
      if (line.startsWith(prefix)) { clearTimeout(timer); resolve(line); } else waiting = take;
    };
    const queued = queue.shift();
    if (queued !== undefined) take(queued); else waiting = take;
  });
}

const TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** CPU (µs) and RSS (bytes) of a process from /proc: readable however busy the process is. */
function procStats(pid: number): { cpuMicros: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuMicros = ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS;
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
  return { cpuMicros, rss };
}

/** Sums the stats of several nodes (loop delay: the worst). */
function merge(all: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const one of all) for (const [k, v] of Object.entries(one)) out[k] = k.startsWith('eld') ? Math.max(out[k] ?? 0, v) : (out[k] ?? 0) + v;
  return out;
}

/**
 * Server stats: loop delay and hub counters over HTTP (skipped if it is too busy to answer within 10 s), CPU and
 * RSS from /proc. Every server runs a full collection when asked (gc() in Node, runtime.GC() in Go):
 * CPU is read before the request, so that collection is not charged to the row, RSS after it.
 */
async function statsOf(port: number, pid: number): Promise<Record<string, number>> {
  const { cpuMicros } = procStats(pid);
  const own = await fetch(`http://127.0.0.1:${port}/__bench/stats`, { signal: AbortSignal.timeout(10_000) })
    .then((res) => res.json() as Promise<Record<string, number>>, () => ({}));
  return { ...own, cpuMicros, rss: procStats(pid).rss };
}

function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
    // A server asked to exit (SIGTERM, to write its profile) that does not within 20 s is killed.
    if (signal !== 'SIGKILL') setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
  });
}

/** `--profile`: livehub's servers run with V8's CPU profiler; each row is followed by where the CPU went (bench/profile.ts). */
const PROFILE_DIR = `${CACHE}/profiles`;
const profiling = process.argv.includes('--profile');
const profiles: Array<{ row: Row; table: string }> = [];

async function runOne(scenario: Scenario, kind: ServerKind): Promise<Row> {
  const env: Record<string, string> = kind.redis
    ? { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', LIVEHUB_PREFIX: `lhbench-${Date.now().toString(36)}` }
    : {};
  const go = kind.go ? goServer(kind.go, CACHE, generatorKind.native) : kind.program ? kind.program(CACHE, generatorKind.native) : null;
  if (go && 'skipped' in go) return { scenario, server: kind.name, note: go.skipped };
  const core = coreList(kind.cores, cores);
  const nodes = Array.from({ length: kind.nodes ?? 1 }, () => go
    ? spawnPinned(core, ['--port', '0'], { GOMAXPROCS: String(kind.cores ?? 1) }, go.program)
    : spawnPinned(core, ['--expose-gc', ...(profiled(kind) ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []), '--import', 'tsx', kind.script, ...kind.args, '--port', '0'], env));
  const server = nodes[0]!;
  let generator: ChildProcess | null = null;
  let guard: NodeJS.Timeout | null = null;
  try {
    const ports = await Promise.all(nodes.map(async (n) => Number((await lineReader(n)('READY', 30_000)).split(' ')[1])));
    const port = ports[0]!;
    const pid = server.pid!;
    const stats = async (p: number, first: number) => merge(await Promise.all(nodes.map((n, i) => statsOf(i === 0 ? p : ports[i]!, i === 0 ? first : n.pid!))));
    const before = await stats(port, pid);
    const workload = scenario.config.workload === 'W6' ? 'W1' : scenario.config.workload;
    const config: GenConfig = { ...scenario.config, ...kind.gen, workload, protocol: kind.protocol, port, ...(ports.length > 1 ? { ports } : {}) };
    generator = spawnPinned(pinning ? 1 : 0, generatorKind.args(config), {}, generatorKind.program);
    const genLine = lineReader(generator);
    await genLine('READY', 180_000);
    await fetch(`http://127.0.0.1:${port}/__bench/reset`);
    const server0 = await stats(port, pid);
    let killed = false;
    guard = setInterval(() => {
      try { if (procStats(pid).rss > RSS_GUARD) { killed = true; void stop(server); } } catch { /* exited */ }
    }, 500);
    generator.stdin!.write('START\n');
    await genLine('DRAINED', (scenario.config.duration + 60) * 1000);
    clearInterval(guard);
    const server1 = killed ? undefined : await stats(port, pid).catch(() => undefined);
    generator.stdin!.write('FINISH\n');
    const result = JSON.parse((await genLine('RESULT', 60_000)).slice(7));
    return { scenario, server: kind.name, result, server0, server1, before, note: killed ? `stopped: RSS over ${RSS_GUARD / 1024 ** 3} GB` : coresNote(kind, pinning) };
  } catch (error) {
    return { scenario, server: kind.name, note: `failed: ${(error as Error).message}` };
  } finally {
    if (guard) clearInterval(guard);
    if (generator) await stop(generator);
    await Promise.all(nodes.map((n) => stop(n, profiled(kind) ? 'SIGTERM' : 'SIGKILL')));
    if (env.LIVEHUB_PREFIX) await dropKeysAfterRun(env.LIVEHUB_PREFIX, scenario.label);
  }
}

const profiled = (kind: ServerKind) => profiling && !kind.go && kind.script === 'bench/servers/livehub.ts' && (kind.nodes ?? 1) === 1;

/** After a profiled row: its breakdown, with the run's counts (the profile also covers connecting). */
function keepProfile(row: Row): void {
  const profile = takeProfile(PROFILE_DIR);
  const r = row.result, s0 = row.server0, s1 = row.server1;
  if (!profile || !r || !s0 || !s1 || !r.received || !r.expected) return;
  const deliveries = r.received as number;
  const publishes = Math.round((deliveries * (r.sent as number)) / (r.expected as number));
  profiles.push({ row, table: breakdownTable(profile, { publishes, deliveries, writes: s1.writes! - s0.writes! }) });
}

function kinds(): ServerKind[] {
  const names = arg('--servers')?.split(',');
  const matches = (name: string, n: string) => (n.startsWith('=') ? name === n.slice(1) : name.toLowerCase().includes(n.toLowerCase()));
  return names ? SERVERS.filter((k) => names.some((n) => matches(k.name, n))) : SERVERS;
}

/** A scenario offered at half of the publishes/s livehub (js) handled in `halfOf` (null without that row). */
function halfCapacity(scenario: Scenario, rows: Row[]): Scenario | null {
  const r = rows.find((x) => x.scenario.label === scenario.halfOf && x.server === JS)?.result;
  if (!r || !r.deliveredPerSecond || !r.sent || !r.expected) return null;
  const rate = Math.round(((r.deliveredPerSecond as number) * (r.sent as number)) / (r.expected as number) / 2);
  return { ...scenario, label: `${scenario.label.replace(/, half of.*$/, '')}, ${rate}/s (half of livehub's capacity)`, config: { ...scenario.config, rate } };
}

async function main(): Promise<void> {
  const scenarios = selected();
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.error(`livehub bench: ${cores} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ` +
    (pinning ? 'servers on core 0, load generator on core 1 (taskset)' : 'no pinning (taskset unavailable or one core)') +
    `; load generator: ${generatorKind.name}`);
  if (kinds().some((k) => k.script.endsWith('livehub.ts'))) buildPackage();
  const rows: Row[] = [];
  for (const listed of scenarios) {
    let scenario = listed.halfOf ? halfCapacity(listed, rows) : listed;
    if (!scenario) {
      console.error(`  ${listed.label}: skipped (it needs livehub (js)'s row of "${listed.halfOf}" in the same run)`);
      continue;
    }
    if (scenario.config.workload === 'W7') { // open-file limits: skipped rows say what to run, then the largest count allowed
      const plan = planW7(scenario, generatorKind.native);
      if (plan.skipped) for (const kind of kindsFor(scenario, kinds())) rows.push({ scenario, server: kind.name, protocol: kind.protocol, note: plan.skipped });
      if (plan.skipped) console.error(`  ${scenario.label}: ${plan.skipped}`);
      if (!plan.run) continue;
      scenario = plan.run;
    }
    // Runs alternate between the row's servers (run 1 of each, then run 2 of each, …), so that
    // whatever else the machine does during the row lands on every server alike.
    const here = kindsFor(scenario, kinds());
    const runsOf = here.map((): Row[] => []);
    const stopped = new Set<number>();
    for (let i = 0; i < RUNS; i++) {
      for (const [k, kind] of here.entries()) {
        if (stopped.has(k)) continue;
        const began = Date.now();
        const run: Row = { ...(await runOne(scenario, kind)), protocol: kind.protocol };
        runsOf[k]!.push(run);
        if (profiled(kind)) { if (i === 0) keepProfile(run); else takeProfile(PROFILE_DIR); } // the first run's profile
        const r = run.result;
        console.error(`  ${scenario.label} — ${kind.name}${RUNS > 1 ? ` (run ${i + 1}/${RUNS})` : ''}: ${((Date.now() - began) / 1000).toFixed(1)} s` +
          (r ? ` (setup ${Number(r.setupSeconds).toFixed(1)} s, ${Math.round(r.deliveredPerSecond as number)} msg/s, late ${Number(r.latePct).toFixed(2)}%, ` +
            `dropped ${Number(r.droppedPct).toFixed(2)}%, ${r.closedByServer} closed by the server)` : '') + (run.note ? ` ${run.note}` : ''));
        if (run.note?.startsWith('skipped')) stopped.add(k);
      }
    }
    for (const runs of runsOf) rows.push(combine(runs, (run) => run.result?.deliveredPerSecond));
  }
  console.log(`\nMachine: ${cores} cores, ${cpu}, Node ${process.version}; ${pinning ? `server pinned to core 0, load generator (${generatorKind.name}) to core 1` : `unpinned; load generator: ${generatorKind.name}`}; ${duration} s of publishing per run, then up to 5 s to drain; ` +
    `${RUNS > 1 ? `each row the median of ${RUNS} runs (spreads: lowest to highest)` : 'each row from one run'}.\n`);
  if (rows.length > 0 || !(wantsStorm() || wants('W9') || wants('W10'))) console.log(table(rows, (name) => SERVERS.find((k) => k.name === name)));
  for (const { row, table: costs } of profiles) console.log(`\nWhere ${row.server}'s CPU went in ${row.scenario.label} (--profile):\n\n${costs}`);
  if (wants('W7')) {
    const row = generatorKind.native
      ? await runW7Cluster({
        connections: Number(arg('--w7-connections') ?? 100_000), processes: arg('--w7-processes') ? Number(arg('--w7-processes')) : undefined,
        checkInterval: arg('--w7-check-interval') ? Number(arg('--w7-check-interval')) : undefined,
        semiSpace: arg('--w7-semi-space') ? Number(arg('--w7-semi-space')) : undefined,
        generator: generatorKind.program, spawnOn: (core, args, env, program) => spawnPinned(core, args, env, program), serverCores: coreList(cores, cores), generatorCore: pinning ? 1 : 0,
      })
      : { connections: 100_000, processes: 0, note: 'skipped: needs the C load generator (bench/loadgen.c; apt-get install gcc)' };
    console.log(`\n${w7ClusterTable(row)}`);
  }
  if (wantsStorm()) {
    const load = { connections: Number(arg('--storm-connections') ?? 10_000), rate: Number(arg('--storm-rate') ?? 200), group: 100 };
    const storm = await runStorms({
      ...load,
      spawnOn: (core, args, env, program) => spawnPinned(core, args, env, program), generatorCore: pinning ? 1 : 0, prof: arg('--storm-prof'),
    }, arg('--servers')?.split(','), arg('--storm-signal'));
    console.log(`\n${stormTable(storm, load)}`);
  }
  if (wants('W9')) {
    const load = { connections: Number(arg('--storm-connections') ?? 10_000), rate: Number(arg('--storm-rate') ?? 200) };
    const engines = await runEngines({ ...load, duration, spawnOn: (core, args, env, program) => spawnPinned(core, args, env, program), generatorCore: pinning ? 1 : 0 });
    console.log(`\n${enginesTable(engines, load)}`);
  }
  if (wants('W10')) {
    const mqtt = await runMqtt({
      duration, rate: Number(arg('--mqtt-rate') ?? 20_000), lowRate: Number(arg('--mqtt-low-rate') ?? 100), connections: 1000, servers: arg('--servers')?.split(','),
      spawnOn: (core, args, env, program) => spawnPinned(core, args, env, program), generatorCore: pinning ? 1 : 0,
    });
    console.log(`\n${mqttTable(mqtt)}`);
  }
}

/** W8 (bench/storm-run.ts): with --only naming it, or --storm. */
function wantsStorm(): boolean {
  return process.argv.includes('--storm') || wants('W8');
}

/** A workload that runs only when --only names it. */
function wants(workload: string): boolean {
  return arg('--only')?.split(/[;,]/).includes(workload) ?? false;
}

await main();
