import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lines } from './child-lines.js';

/**
 * W10, MQTT fan-out (bench/mqtt-load.c): 1,000 MQTT 3.1.1 subscribers on one topic, a publisher
 * offering more 100-byte PUBLISHes than any of the brokers here delivers, at QoS 0 and at QoS 1 (both
 * ways; each delivery acknowledged as it is read), against livehub's MQTT endpoint, Mosquitto 2
 * (Debian's `mosquitto`, started here on a port of its own with a config of its own: the machine's own
 * broker on 1883 is left alone) and aedes (npm), each on core 0, the generator on core 1.
 *
 *   npm run bench -- --only W10 [--duration 5] [--mqtt-rate 20000] [--mqtt-low-rate 100] [--servers livehub,mosquitto,aedes]
 */

export interface MqttCase { server: string; start: (port: number) => { program: string; args: string[]; env?: Record<string, string> }; readyPort: boolean }

const MOSQUITTO = 'Mosquitto 2';
export const MQTT_SERVERS: MqttCase[] = [
  { server: 'livehub (mqtt)', start: () => ({ program: process.execPath, args: ['--import', 'tsx', 'bench/servers/livehub-mqtt.ts'] }), readyPort: true },
  { server: MOSQUITTO, start: (port) => ({ program: 'mosquitto', args: ['-c', mosquittoConfig(port)] }), readyPort: false },
  { server: 'aedes', start: () => ({ program: process.execPath, args: ['--import', 'tsx', 'bench/servers/aedes.ts'] }), readyPort: true },
];

export interface MqttRow { label: string; server: string; qos: number; result?: Record<string, number | null>; cpuMicros?: number; generatorCpuPct?: number; rssMb?: number; note?: string }

const CACHE = 'node_modules/.cache/livehub-bench';
const TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;
let configDir: string | null = null;

/**
 * A config for Mosquitto 2 listening on 127.0.0.1:port only, anonymous clients allowed, nothing
 * persisted, no log file, and TCP_NODELAY on its sockets (`set_tcp_nodelay true`: with Nagle's
 * algorithm, its default, small PUBLISHes wait for the previous one's ACK); the queue and in-flight
 * limits are Mosquitto's defaults (1000 queued QoS 1 messages per client, then dropped; 20 in flight).
 */
function mosquittoConfig(port: number): string {
  configDir ??= mkdtempSync(join(tmpdir(), 'livehub-bench-mosquitto-'));
  const file = join(configDir, `mosquitto-${port}.conf`);
  writeFileSync(file, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type error', 'max_connections -1', 'set_tcp_nodelay true', ''].join('\n'));
  return file;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => { const { port } = probe.address() as { port: number }; probe.close(() => resolve(port)); });
  });
}


function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / TICKS;
}
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/** Waits until something accepts connections on the port (Mosquitto prints nothing when it is ready). */
async function listening(port: number, timeoutMs: number): Promise<void> {
  const { connect } = await import('node:net');
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1').once('connect', () => { s.destroy(); resolve(true); }).once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** livehub's server runs the compiled package (dist/): built from the sources of this checkout first. */
function buildPackage(): void {
  const built = spawnSync('npm', ['run', 'build:lib'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) throw new Error('livehub bench W10: npm run build:lib failed; livehub\'s MQTT server runs the compiled package (dist/)');
}

function buildGenerator(): string {
  mkdirSync(CACHE, { recursive: true });
  const program = `${CACHE}/mqtt-load`;
  const built = spawnSync('cc', ['-O2', '-pthread', '-o', program, 'bench/mqtt-load.c'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (built.status !== 0) throw new Error('livehub bench W10: building bench/mqtt-load.c failed (cc; its errors are above)');
  return program;
}

export async function runMqtt(o: {
  duration: number; rate: number; connections: number; servers?: string[];
  /** Publishes a second of an extra QoS 1 run below the slow-consumer threshold (every broker keeps up). */
  lowRate: number;
  spawnOn: (core: number, args: string[], env: Record<string, string>, program?: string) => ChildProcess; generatorCore: number;
}): Promise<MqttRow[]> {
  const program = buildGenerator();
  const rows: MqttRow[] = [];
  const cases = MQTT_SERVERS.filter((c) => !o.servers || o.servers.some((s) => c.server.toLowerCase().includes(s.toLowerCase())));
  if (cases.some((c) => c.server.startsWith('livehub')) && process.env.LIVEHUB_BENCH_SOURCES !== '1') buildPackage();
  if (cases.some((c) => c.server === MOSQUITTO) && spawnSync('mosquitto', ['-h']).error) {
    rows.push({ label: 'W10', server: MOSQUITTO, qos: 0, note: 'skipped: no mosquitto binary (apt-get install mosquitto)' });
  }
  // Offered beyond every broker's capacity at QoS 0 and 1, then QoS 1 at a rate all of them keep up with.
  for (const { qos, rate } of [{ qos: 0, rate: o.rate }, { qos: 1, rate: o.rate }, { qos: 1, rate: o.lowRate }]) {
    for (const c of cases) {
      const label = `W10 MQTT ${o.connections / 1000}k subs × ${rate}/s × 100 B, QoS ${qos}`;
      if (c.server === MOSQUITTO && rows.some((r) => r.server === MOSQUITTO && r.note?.startsWith('skipped'))) continue;
      const row: MqttRow = { label, server: c.server, qos };
      const port = await freePort();
      const how = c.start(port);
      const server = o.spawnOn(0, how.args, how.env ?? {}, how.program);
      let generator: ChildProcess | null = null;
      const began = Date.now();
      try {
        const mqttPort = c.readyPort ? Number((await lines(server)('READY', 60_000)).split(' ')[1]) : (await listening(port, 10_000), port);
        generator = o.spawnOn(o.generatorCore, [JSON.stringify({ port: mqttPort, connections: o.connections, rate, size: 100, duration: o.duration, qos })], {}, program);
        const gen = lines(generator);
        await gen('READY', 180_000);
        const cpu0 = cpuMicros(server.pid!), gen0 = cpuMicros(generator.pid!), t0 = Date.now();
        generator.stdin!.write('START\n');
        await gen('DRAINED', (o.duration + 60) * 1000);
        row.cpuMicros = cpuMicros(server.pid!) - cpu0;
        row.generatorCpuPct = (100 * (cpuMicros(generator.pid!) - gen0) / 1000) / (Date.now() - t0);
        row.rssMb = rssMb(server.pid!);
        generator.stdin!.write('FINISH\n');
        row.result = JSON.parse((await gen('RESULT', 30_000)).slice(7));
      } catch (error) {
        row.note = `failed: ${(error as Error).message}`;
      } finally {
        for (const child of [generator, server]) {
          if (child && child.exitCode === null && child.signalCode === null) {
            await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGKILL'); });
          }
        }
      }
      rows.push(row);
      const r = row.result;
      console.error(`  ${label} — ${c.server}: ${((Date.now() - began) / 1000).toFixed(1)} s` +
        (r ? ` (${Math.round(r.deliveredPerSecond as number)} msg/s, loss ${Number(r.lossPct).toFixed(2)}%)` : '') + (row.note ? ` ${row.note}` : ''));
    }
  }
  if (configDir) rmSync(configDir, { recursive: true, force: true });
  return rows;
}

const fmt = (n: number | null | undefined, digits = 0) =>
  n === null || n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function mqttTable(rows: MqttRow[]): string {
  const out = [
    'W10, MQTT fan-out (bench/mqtt-run.ts, generator bench/mqtt-load.c: C, epoll, one thread receiving, one publishing): 1,000 MQTT 3.1.1 ' +
    'subscribers on one topic, 100-byte payloads offered beyond capacity at QoS 0 and QoS 1, and QoS 1 again at a rate every broker keeps up with (subscriptions and publishes; every delivery ' +
    'acknowledged as read). Brokers on core 0, the generator on core 1. Mosquitto 2: Debian\'s, on its own port with its own config (set_tcp_nodelay true), defaults ' +
    'otherwise (max_queued_messages 1000, max_inflight_messages 20); aedes: defaults (in-memory persistence); livehub: its MQTT endpoint, default limits.',
    '',
    '| workload | server | delivered msg/s | × Mosquitto | loss | p50 ms | p99 ms | p99.9 ms | CPU µs/delivery | RSS MB | generator CPU % | note |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const row of rows) {
    const r = row.result;
    const mosq = rows.find((x) => x.label === row.label && x.server === MOSQUITTO)?.result;
    const ratio = r && mosq?.deliveredPerSecond ? (r.deliveredPerSecond as number) / (mosq.deliveredPerSecond as number) : null;
    const cpu = r && row.cpuMicros !== undefined && r.received ? row.cpuMicros / (r.received as number) : null;
    out.push(`| ${row.label} | ${row.server} | ${fmt(r?.deliveredPerSecond)} | ${fmt(ratio, 2)} | ${r ? `${fmt(r.lossPct, 2)}%` : '–'} | ${fmt(r?.p50, 1)} | ${fmt(r?.p99, 1)} | ` +
      `${fmt(r?.p999, 1)} | ${fmt(cpu, 2)} | ${fmt(row.rssMb)} | ${fmt(row.generatorCpuPct)} | ${row.note ?? ''} |`);
  }
  return out.join('\n');
}
