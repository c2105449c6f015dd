import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { diff, format, groups } from './heap-diff.js';

/**
 * Where a bench server's memory per connection goes: starts the server on core 0, opens idle
 * subscribed connections with the C load generator on core 1 (W7: each in "c" and its own channel;
 * W5: "c" only), and prints what grew per 1,000 connections after a full GC: RSS, V8's heap (used
 * and committed), external memory and the native rest.
 *
 * With two counts (`--connections 4000,16000`) a second generator adds the difference to the same
 * server, and the figures between the two counts are the marginal cost of a connection: without
 * what the first thousands pay once (V8's young generation grown to its full size, code compiled),
 * which is what a count far beyond this machine's open-files limit would show. With --snapshot, two
 * heap snapshots (at the first count and at the last; at none and at the count with one count) are
 * compared by class (bench/heap-diff.ts).
 *
 *   node --import tsx bench/memory.ts [--server bench/servers/livehub.ts] [--connections 4000,16000]
 *     [--workload W7|W5] [--browser-headers] [--snapshot [--keep]] [--top 40] [-- server args, e.g. --codec js]
 *
 * --browser-headers: each upgrade carries the ~0.8 KB of headers a browser on a signed-in page sends
 * (user agent, languages, session cookies; bench/wire.c), where the generator otherwise sends only the
 * handshake's. With livehub's server, `-- --keep-headers x-tenant` sets the hub's keepHeaders option.
 *
 * --keep leaves the snapshots in the temporary directory it names (for Chrome's DevTools).
 */

const argv = process.argv.slice(2);
const dashes = argv.indexOf('--');
const own = dashes >= 0 ? argv.slice(0, dashes) : argv;
const serverArgs = dashes >= 0 ? argv.slice(dashes + 1) : [];
const opt = (name: string, fallback: string) => { const i = own.indexOf(name); return i >= 0 ? own[i + 1]! : fallback; };
const script = opt('--server', 'bench/servers/livehub.ts');
const counts = opt('--connections', '10000').split(',').map(Number);
const workload = opt('--workload', 'W7');
const top = Number(opt('--top', '40'));
const snapshot = own.includes('--snapshot');
const keep = own.includes('--keep');
const browserHeaders = own.includes('--browser-headers');
if (counts.length > 2 || counts.some((n) => !Number.isInteger(n) || n < 1) || (counts.length === 2 && counts[1]! <= counts[0]!)) {
  throw new TypeError(`memory.ts: --connections takes a count, or two ascending counts (4000,16000), not ${opt('--connections', '')}`);
}
if (workload !== 'W7' && workload !== 'W5') throw new TypeError(`memory.ts: --workload is W7 or W5, not ${workload}`);

const CACHE = 'node_modules/.cache/livehub-bench';
mkdirSync(CACHE, { recursive: true });
const loadgen = `${CACHE}/loadgen`;
const built = spawnSync('cc', ['-O2', '-pthread', '-o', loadgen, 'bench/loadgen.c', 'bench/wire.c', 'bench/publisher.c', 'bench/sse.c', 'bench/centrifuge.c'], { stdio: 'inherit' });
if (built.status !== 0) throw new Error('memory.ts: building bench/loadgen.c failed (it needs cc)');

/** Waits for a line starting with `prefix` on the child's stdout. */
function line(child: ChildProcess, prefix: string): Promise<string> {
  const reader = createInterface({ input: child.stdout! });
  return new Promise<string>((resolve, reject) => {
    const exited = (code: number | null, signal: string | null) => reject(new Error(`memory.ts: waiting for ${prefix}, the process exited (${code ?? signal})`));
    reader.on('line', (text) => {
      if (!text.startsWith(prefix)) return;
      child.off('exit', exited);
      reader.close();
      resolve(text);
    });
    child.once('exit', exited);
  });
}

type Stats = Record<string, number>;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
function perThousand(from: Stats, to: Stats, connections: number): string {
  const k = connections / 1000;
  const per = (key: string) => mb((to[key]! - from[key]!) / k);
  const native = mb((to.rss! - to.heapTotal! - to.external! - (from.rss! - from.heapTotal! - from.external!)) / k);
  return `RSS ${per('rss')} = V8 heap committed ${per('heapTotal')} (used ${per('heapUsed')}) + external ${per('external')} ` +
    `(arrayBuffers ${per('arrayBuffers')}) + native rest ${native}`;
}

const dir = mkdtempSync(join(tmpdir(), 'livehub-memory-'));
const server = spawn('taskset', ['-c', '0', process.execPath, '--expose-gc', '--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`,
  '--import', 'tsx', script, ...serverArgs, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const generators: ChildProcess[] = [];
try {
  const port = Number((await line(server, 'READY')).split(' ')[1]);
  // A stats request runs a full GC first (bench/servers/stats.ts), and waits out a snapshot.
  const stats = async (): Promise<Stats> => {
    for (let attempt = 0; ; attempt++) { // once more if the kept-alive connection closed meanwhile
      try {
        return await (await fetch(`http://127.0.0.1:${port}/__bench/stats`, { signal: AbortSignal.timeout(300_000) })).json() as Stats;
      } catch (error) {
        if (attempt > 0) throw error;
      }
    }
  };
  const snap = async () => {
    server.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 500));
    await stats();
  };
  /** Opens `connections` more (subscribers numbered from `first`); resolves once all are subscribed. */
  const open = async (first: number, connections: number) => {
    const config = { protocol: 'livehub', port, workload, connections, first, size: 100, rate: 1, burst: 0, duration: 5, slowFraction: 0, browserHeaders };
    const generator = spawn('taskset', ['-c', '1', loadgen, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] });
    generators.push(generator);
    const began = Date.now();
    await line(generator, 'READY');
    await new Promise((r) => setTimeout(r, 1000));
    return (Date.now() - began - 1000) / 1000;
  };

  const before = await stats();
  if (snapshot && counts.length === 1) await snap();
  const setup = await open(0, counts[0]!);
  const first = await stats();
  if (snapshot) await snap();
  console.log(`${script} ${serverArgs.join(' ')}: idle subscribed connections (${workload}); MB per 1,000 connections, after a full GC:`);
  console.log(`  0 to ${counts[0]} (set up in ${setup.toFixed(1)} s): ${perThousand(before, first, counts[0]!)}`);
  if (counts.length === 2) {
    const more = counts[1]! - counts[0]!;
    const setup2 = await open(counts[0]!, more);
    const second = await stats();
    if (snapshot) await snap();
    console.log(`  0 to ${counts[1]}: ${perThousand(before, second, counts[1]!)}`);
    console.log(`  ${counts[0]} to ${counts[1]} (set up in ${setup2.toFixed(1)} s), the marginal cost: ${perThousand(first, second, more)}`);
  }
  if (snapshot) {
    const files = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')).sort();
    if (files.length < 2) throw new Error(`memory.ts: expected two heap snapshots in ${dir}, found ${files.length}`);
    const span = counts.length === 2 ? `${counts[0]} to ${counts[1]}` : `0 to ${counts[0]}`;
    console.log(`\nV8 heap growth per connection from ${span}, by class (self sizes; "← x.y": held by property y of an x):\n`);
    console.log(format(diff(groups(join(dir, files[0]!)), groups(join(dir, files[1]!)), counts.length === 2 ? counts[1]! - counts[0]! : counts[0]!), top));
  }
} finally {
  for (const generator of generators) generator.kill('SIGKILL');
  server.kill('SIGKILL');
  if (keep) console.log(`\nheap snapshots kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
