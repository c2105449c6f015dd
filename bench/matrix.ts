import { resolve as resolvePath } from 'node:path';
import { TWO_CORES } from './cores.js';
import type { GoServer } from './go-servers.js';
import { limitServer, type NativeBuild } from './limit-server.js';
import type { GenConfig, Protocol } from './loadgen.js';

/**
 * What `npm run bench` runs (bench/run.ts): the servers, and the workloads each runs in. Reads
 * `--duration` (seconds of publishing per run, default 5) and `--baseline DIR` from the command line.
 */

const argv = process.argv;
const duration = Number(argv.includes('--duration') ? argv[argv.indexOf('--duration') + 1] : 5);

export interface ServerKind {
  name: string; script: string; args: string[]; protocol: Protocol; nodes?: number; redis?: boolean;
  /** A Go server (bench/go-servers.ts), on one core unless `cores` says otherwise. */
  go?: GoServer;
  /** A native program the runner builds (bench/limit-server.ts), on one core. */
  program?: (cache: string, nativeGenerator: boolean) => NativeBuild;
  /**
   * Several cores (bench/cores.ts): the server's processes (or Go's GOMAXPROCS) spread over the
   * machine's cores, the load generator's included, instead of all on core 0; the row's note says so.
   */
  cores?: number;
  /** False for a hub without channels (every message goes to everyone): W3 does not apply. */
  channels?: boolean;
  /** The workloads it runs in (default: all but W6). */
  only?: (scenario: Scenario) => boolean;
  /** Load generator settings of its own. */
  gen?: Partial<GenConfig>;
  /** A feature turned on: the row's note compares it with this server's row (the feature off). */
  versus?: string;
}
/** Subscribers on Server-Sent Events streams (protocol 'sse'): only the scenarios marked `sse` run them. */
const isSse = (kind: ServerKind) => kind.protocol === 'sse';
const W1_1K = 'W1 1k subs × 1000/s × 100 B';
const isW1k = (s: Scenario) => s.label === W1_1K;
export const JS = 'livehub (js)';
export const SERVERS: ServerKind[] = [
  { name: 'livehub (wasm)', script: 'bench/servers/livehub.ts', args: ['--codec', 'wasm'], protocol: 'livehub' },
  { name: JS, script: 'bench/servers/livehub.ts', args: ['--codec', 'js'], protocol: 'livehub' },
  // What features cost, against livehub (js): Prometheus metrics mounted and scraped once a second;
  // tag filters on half the subscriptions; the outgoing hook on every delivery (bench/servers/livehub.ts).
  { name: 'livehub (js, metrics)', script: 'bench/servers/livehub.ts', args: ['--codec', 'js', '--metrics'], protocol: 'livehub', versus: JS,
    only: (s) => isW1k(s) || s.config.workload === 'W3' },
  { name: 'livehub (js, filter)', script: 'bench/servers/livehub.ts', args: ['--codec', 'js', '--tags'], protocol: 'livehub', versus: JS,
    only: isW1k, gen: { filterHalf: true } },
  // The write hold off (maxWriteDelay 0: every turn writes), against livehub (js) with its default.
  { name: 'livehub (js, maxWriteDelay 0)', script: 'bench/servers/livehub.ts', args: ['--codec', 'js', '--max-write-delay', '0'], protocol: 'livehub', versus: JS,
    only: (s) => s.config.workload === 'W3' },
  // The heartbeat off (heartbeatPeriod Infinity), against livehub (js) with its default (5 s to idle connections).
  { name: 'livehub (js, no heartbeat)', script: 'bench/servers/livehub.ts', args: ['--codec', 'js', '--heartbeat-period', 'Infinity'], protocol: 'livehub', versus: JS,
    only: (s) => s.label === 'W3 10k conns, personal + group of 10, 5000/s' },
  { name: 'livehub (js, outgoing hook)', script: 'bench/servers/livehub.ts', args: ['--codec', 'js', '--outgoing'], protocol: 'livehub', versus: JS,
    only: isW1k },
  { name: 'naive ws', script: 'bench/servers/naive-ws.ts', args: [], protocol: 'livehub' },
  { name: 'Socket.IO 4.8', script: 'bench/servers/socketio.ts', args: [], protocol: 'socketio' },
  // gorilla/websocket's chat hub, the Go hub livehub ports (bench/servers/gohub), on one core.
  { name: 'Go hub (gorilla chat)', script: 'bench/servers/gohub/main.go', args: [], protocol: 'gohub', go: 'gohub', channels: false },
  // Centrifuge 0.15 (Debian's), the Go library behind Centrifugo, on one core (bench/servers/centrifuge).
  { name: 'Centrifuge 0.15 (Go)', script: 'bench/servers/centrifuge/main.go', args: [], protocol: 'centrifuge', go: 'centrifuge' },
  // The limit: livehub's wire and nothing more, in C (epoll, one thread, writev), as a floor (bench/servers/limit.c).
  { name: 'limit (C reference)', script: 'bench/servers/limit.c', args: [], protocol: 'livehub', program: limitServer,
    only: (s) => ['W1', 'W3', 'W7'].includes(s.config.workload) },
  // Subscribers on Server-Sent Events streams (GET /events), the publisher on a WebSocket as above.
  { name: 'livehub (sse)', script: 'bench/servers/livehub.ts', args: ['--codec', 'js'], protocol: 'sse' },
  { name: 'naive SSE', script: 'bench/servers/naive-sse.ts', args: [], protocol: 'sse' },
  { name: 'livehub (js) ×2 nodes + Redis', script: 'bench/servers/livehub.ts', args: ['--codec', 'js'], protocol: 'livehub', nodes: 2, redis: true },
  ...TWO_CORES,
];
/**
 * `--baseline DIR`: an earlier checkout of livehub whose package is built there (`npm run build:lib`):
 * its livehub (js) runs in W1, W3 and W7 beside today's, and each of its rows is compared with
 * today's (before/after ratios from one run on one machine).
 */
const BASELINE = argv.includes('--baseline') ? argv[argv.indexOf('--baseline') + 1] : undefined;
if (BASELINE !== undefined) {
  SERVERS.push({ name: 'livehub (js, baseline)', script: `${resolvePath(BASELINE)}/bench/servers/livehub.ts`, args: ['--codec', 'js'], protocol: 'livehub', versus: JS,
    only: (s) => ['W1', 'W3', 'W7'].includes(s.config.workload) });
}
/** Servers each workload runs against (W6 compares one node with two nodes sharing Redis). */
const REDIS_KIND = 'livehub (js) ×2 nodes + Redis';
export function kindsFor(scenario: Scenario, kinds: ServerKind[]): ServerKind[] {
  const { workload } = scenario.config;
  if (workload === 'W6') return kinds.filter((k) => k.name === JS || k.name === REDIS_KIND);
  return kinds.filter((k) => k.name !== REDIS_KIND && (workload !== 'W3' || k.channels !== false) && (!isSse(k) || scenario.sse === true) &&
    (k.only === undefined || k.only(scenario)));
}
export const W3_SATURATED = 'W3 10k conns, personal + group of 10, 200000/s offered';
export interface Scenario {
  label: string;
  /** Offered at half of livehub (js)'s capacity in that scenario (run before it in the same run). */
  halfOf?: string;
  config: Omit<GenConfig, 'protocol' | 'port' | 'workload'> & { workload: GenConfig['workload'] | 'W6' };
  /** Also run with subscribers on SSE streams. */
  sse?: boolean;
}

const base = { duration, burst: 0, rate: 1000, size: 100, slowFraction: 0 };
export const ALL: Scenario[] = [
  { label: 'W1 1k subs × 1000/s × 100 B', config: { ...base, workload: 'W1', connections: 1000 }, sse: true },
  // 1,000/s to 1k subscribers offers 1M deliveries a second, all of which livehub delivers: this row
  // offers 5M, to show what each server does with more than it can take at that size.
  { label: 'W1 1k subs × 5000/s × 100 B', config: { ...base, workload: 'W1', connections: 1000, rate: 5000 } },
  { label: 'W1 5k subs × 1000/s × 100 B', config: { ...base, workload: 'W1', connections: 5000 } },
  { label: 'W1 10k subs × 1000/s × 100 B', config: { ...base, workload: 'W1', connections: 10_000 } },
  { label: 'W1 1k subs × 1000/s × 1 KiB', config: { ...base, workload: 'W1', connections: 1000, size: 1024 } },
  { label: 'W1 1k subs × 100/s × 16 KiB', config: { ...base, workload: 'W1', connections: 1000, size: 16_384, rate: 100 } },
  { label: 'W2 1k subs, bursts of 2000/s × 100 B', config: { ...base, workload: 'W2', connections: 1000, burst: 2000 } },
  { label: 'W3 10k conns, personal + group of 10, 5000/s', config: { ...base, workload: 'W3', connections: 10_000, rate: 5000 } },
  // Saturation: 200,000 publishes/s (1.1M deliveries/s) offered, far beyond what any server here takes.
  { label: W3_SATURATED, config: { ...base, workload: 'W3', connections: 10_000, rate: 200_000 } },
  // Half of what livehub (js) delivered in the row above, in publishes/s (the rate is set from that row).
  { label: 'W3 10k conns, personal + group of 10, half of livehub\'s capacity', config: { ...base, workload: 'W3', connections: 10_000, rate: 0 }, halfOf: W3_SATURATED },
  // 20 s: a reader that stops must first fill the kernel's loopback buffers (several MB) before the
  // hub's own limits (4 MiB or 256 messages waiting) can evict it.
  { label: 'W4 1k subs × 1000/s × 1 KiB for 20 s, 1% stop reading', config: { ...base, workload: 'W4', connections: 1000, size: 1024, slowFraction: 0.01, duration: Math.max(duration, 20) } },
  // For the SSE rows, RSS MB/1k conns is the memory of 1,000 idle streams.
  { label: 'W5 10k idle subscribed conns', config: { ...base, workload: 'W5', connections: 10_000 }, sse: true },
  // 100k connections, each in a shared channel and its own, idle; then 5 publishes to the shared one, a
  // second apart, every delivery timed. Needs ~101k open files per process (bench/file-limit.ts).
  { label: 'W7 100k idle conns in c + their own channel, 5 broadcasts to all', config: { ...base, workload: 'W7', connections: 100_000, rate: 1, duration: 5 } },
  { label: 'W6 1k subs × 1000/s × 100 B, one node vs two through Redis', config: { ...base, workload: 'W6', connections: 1000 } },
];
