import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ensureFileLimit, SPARE_FILES } from './file-limit.js';

/**
 * What idle connections cost the server's CPU, with the hub's heartbeat and without it: starts the
 * bench server (bench/servers/livehub.ts, the compiled package) on core 0 with `--heartbeat-period`
 * at each setting, opens N idle subscribed connections with the C load generator on core 1 (W5: each
 * in "c", nothing published), lets every connection pass its first heartbeat, then reads the server
 * process's CPU time over a window. Prints CPU per second, per connection (µs of CPU per connection
 * per second), the writes the hub made per second, and what the heartbeat adds, extrapolated (linearly:
 * each idle connection costs the same) to 100,000 connections, which one process here cannot hold.
 *
 *   node --import tsx bench/idle-cpu.ts [--connections 18000] [--seconds 30] [--protocol livehub|sse]
 *     [--periods 4000,Infinity]
 *
 * N is bounded by the open-files limit (each connection is a descriptor in the server and one in the
 * generator); the default fits under a limit of 20,000.
 */

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1]! : fallback; };
const connections = Number(opt('--connections', '18000'));
const seconds = Number(opt('--seconds', '30'));
const protocol = opt('--protocol', 'livehub');
const periods = opt('--periods', '4000,Infinity').split(',');
if (!Number.isInteger(connections) || connections < 1) throw new TypeError(`idle-cpu.ts: --connections takes a count, not ${opt('--connections', '')}`);
if (!(seconds > 0)) throw new TypeError(`idle-cpu.ts: --seconds takes a positive number, not ${opt('--seconds', '')}`);
if (protocol !== 'livehub' && protocol !== 'sse') throw new TypeError(`idle-cpu.ts: --protocol is livehub or sse, not ${protocol}`);
if (periods.some((p) => !(Number(p) > 0))) throw new TypeError(`idle-cpu.ts: --periods takes positive periods in ms (or Infinity), not ${periods.join(',')}`);

const files = ensureFileLimit(connections + SPARE_FILES);
if (!files.ok) throw new Error(`idle-cpu.ts: ${files.why}`);
const CACHE = 'node_modules/.cache/livehub-bench';
mkdirSync(CACHE, { recursive: true });
const loadgen = `${CACHE}/loadgen`;
const built = spawnSync('cc', ['-O2', '-pthread', '-o', loadgen, 'bench/loadgen.c', 'bench/wire.c', 'bench/publisher.c', 'bench/sse.c', 'bench/centrifuge.c'], { stdio: 'inherit' });
if (built.status !== 0) throw new Error('idle-cpu.ts: building bench/loadgen.c failed (it needs cc)');
const lib = spawnSync('npm', ['run', 'build:lib'], { stdio: ['ignore', 'ignore', 'inherit'] });
if (lib.status !== 0) throw new Error('idle-cpu.ts: npm run build:lib failed; the bench server runs the compiled package (dist/)');

/** Waits for a line starting with `prefix` on the child's stdout. */
function line(child: ChildProcess, prefix: string): Promise<string> {
  const reader = createInterface({ input: child.stdout! });
  return new Promise<string>((resolve, reject) => {
    const exited = (code: number | null, signal: string | null) => reject(new Error(`idle-cpu.ts: waiting for ${prefix}, the process exited (${code ?? signal})`));
    reader.on('line', (text) => {
      if (!text.startsWith(prefix)) return;
      child.off('exit', exited);
      reader.close();
      resolve(text);
    });
    child.once('exit', exited);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Stats = { cpuMicros: number; writes: number; clients: number; eldP99Ms: number };

interface Row { period: string; cpuMsPerSecond: number; microsPerConnection: number; writesPerSecond: number; eldP99Ms: number }

async function measure(period: string): Promise<Row> {
  const server = spawn('taskset', ['-c', '0', process.execPath, '--import', 'tsx', 'bench/servers/livehub.ts', '--heartbeat-period', period, '--port', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let generator: ChildProcess | null = null;
  try {
    const port = Number((await line(server, 'READY')).split(' ')[1]);
    const stats = async (): Promise<Stats> => (await fetch(`http://127.0.0.1:${port}/__bench/stats`)).json() as Promise<Stats>;
    const config = { protocol, port, workload: 'W5', connections, size: 100, rate: 1, burst: 0, duration: 3600, slowFraction: 0 };
    generator = spawn('taskset', ['-c', '1', loadgen, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] });
    await line(generator, 'READY');
    // Every connection past its first heartbeat, and the setup's garbage collected, before the window.
    await sleep(Math.min(Number(period), 10_000) + 3000);
    await fetch(`http://127.0.0.1:${port}/__bench/reset`);
    const before = await stats();
    const began = performance.now();
    await sleep(seconds * 1000);
    const after = await stats();
    const elapsed = (performance.now() - began) / 1000;
    if (after.clients !== connections) throw new Error(`idle-cpu.ts: the server holds ${after.clients} connections, not ${connections}`);
    const cpuMsPerSecond = (after.cpuMicros - before.cpuMicros) / 1000 / elapsed;
    return {
      period, cpuMsPerSecond, microsPerConnection: (cpuMsPerSecond * 1000) / connections,
      writesPerSecond: (after.writes - before.writes) / elapsed, eldP99Ms: after.eldP99Ms,
    };
  } finally {
    generator?.kill('SIGKILL');
    server.kill('SIGKILL');
  }
}

const rows: Row[] = [];
for (const period of periods) rows.push(await measure(period));
const f = (n: number, digits = 2) => n.toFixed(digits);
console.log(`\nIdle ${protocol === 'sse' ? 'SSE streams' : 'WebSocket connections (livehub.v1)'}: ${connections.toLocaleString('en-US')}, subscribed, nothing published; server on one core, ${seconds} s window\n`);
console.log('| heartbeatPeriod | server CPU | µs CPU per connection per second | writes/s | event-loop p99 |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.period} ms | ${f(r.cpuMsPerSecond, 1)} ms/s (${f(r.cpuMsPerSecond / 10, 1)} % of a core) | ${f(r.microsPerConnection)} | ${f(r.writesPerSecond, 0)} | ${f(r.eldP99Ms, 1)} ms |`);
const off = rows.find((r) => r.period === 'Infinity');
for (const r of rows) {
  if (r === off) continue;
  const at100k = (r.microsPerConnection * 100_000) / 1000;
  const extra = off ? r.microsPerConnection - off.microsPerConnection : null;
  console.log(`\nheartbeatPeriod ${r.period} ms: ${f(r.microsPerConnection)} µs per connection per second` +
    (extra === null ? '' : ` (${f(extra)} of it the heartbeat: ${f(extra / (r.writesPerSecond / connections), 1)} µs per heartbeat written)`) +
    `; extrapolated to 100,000 idle connections: ${f(at100k, 0)} ms of CPU per second (${f(at100k / 10, 1)} % of a core)` +
    (extra === null ? '' : `, of which the heartbeat ${f((extra * 100_000) / 1000, 0)} ms/s`) + '.');
}
