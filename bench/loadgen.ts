import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EventStreamConnection, type EventSink } from './sse-wire.js';
import { clientFrame, nowMicros, WireConnection, type FrameSink } from './wire.js';

/**
 * The Node load generator, used when there is no C compiler for bench/loadgen.c (or with
 * `--generator node`); from about 5k subscribers it saturates before livehub does. One process
 * (pinned by the runner to its own core) holds every subscriber connection, with the publisher in a
 * child process (on the same core: it inherits the affinity) so that a saturated receive loop does
 * not delay the publish schedule. Talks to the runner over stdio: prints READY, waits for START,
 * prints DRAINED, waits for FINISH, prints RESULT {json} (the fields of `GenResult`, as the C one).
 */

/**
 * gohub: gorilla's chat hub (bench/servers/gohub) and centrifuge: Centrifuge's JSON protocol
 * (bench/servers/centrifuge), both driven by the C generator only. sse: subscribers on Server-Sent
 * Events streams (GET /events?channel=…), the publisher on a livehub WebSocket.
 */
export type Protocol = 'livehub' | 'socketio' | 'gohub' | 'sse' | 'centrifuge';
export interface GenConfig {
  protocol: Protocol;
  port: number;
  /** Several nodes: subscriber i connects to ports[i % n], the publisher to the first. */
  ports?: number[];
  /** W7 (100k idle connections, source addresses over 127.0.0.0/8) is the C generator's only. */
  workload: 'W1' | 'W2' | 'W3' | 'W4' | 'W5' | 'W7';
  connections: number;
  /** Approximate bytes of each delivered message. */
  size: number;
  /** Messages per second (W1, W3, W4). */
  rate: number;
  /** W2: messages per burst, one burst a second. */
  burst: number;
  /** Seconds of publishing (W5: of idling). */
  duration: number;
  /** W4: share of subscribers that stop reading. */
  slowFraction: number;
  /** livehub: every second subscriber (odd index) subscribes with `"filter":{"region":"eu"}`. */
  filterHalf?: boolean;
  /** C generator: the first subscriber's index (its channel u<index>), for a second generator on the same server. */
  first?: number;
}

/** What both generators print after RESULT. */
export interface GenResult {
  sent: number; expected: number; received: number;
  /** Missing on readers still open when the drain ended (the slow ones are not counted: they stopped reading on purpose). */
  late: number;
  /**
   * Missing on readers the server closed, and on the others the deliveries of what was published
   * after the server closed the publisher's connection (publishes it never took).
   */
  dropped: number;
  latePct: number; droppedPct: number; lossPct: number;
  deliveredPerSecond: number; elapsedSeconds: number;
  p50: number | null; p99: number | null; p999: number | null; latencySamples: number;
  /** Subscriber connections the server closed (readers by the end of the drain, slow ones after reading what they held). */
  closedByServer: number;
  slowClosed: number; slow: number;
  /** 1 when the server closed the publisher's connection, after `publishedBeforeClose` publishes. */
  publisherClosed: number; publishedBeforeClose: number;
  setupSeconds: number;
}

/** Deliveries subscriber i expects of the first `publishes` publishes of the publisher's schedule (`target` below). */
function expectedOf(config: GenConfig, publishes: number): number[] {
  const n = config.connections;
  if (config.workload !== 'W3') return new Array<number>(n).fill(publishes);
  const groups = Math.ceil(n / 10), evens = Math.ceil(publishes / 2);
  const out = Array.from({ length: n }, (_, i) => Math.floor(evens / groups) + (Math.floor(i / 10) < evens % groups ? 1 : 0));
  for (let s = 1; s < publishes; s += 2) out[(s * 7919) % n]!++;
  return out;
}

/** Where the publisher (and WebSocket subscribers) connect. */
const PATHS: Record<Protocol, string> = { livehub: '/', socketio: '/socket.io/?EIO=4&transport=websocket', gohub: '/ws', sse: '/', centrifuge: '/connection/websocket' };
/** livehub answers "subscribed" only on connections that negotiated its full protocol. */
const subprotocolOf = (protocol: Protocol) => (protocol === 'livehub' || protocol === 'sse' ? 'livehub.v1' : undefined);
const DRAIN_MICROS = 5_000_000;
const SAMPLED = 64;

function channelsOf(config: GenConfig, i: number): string[] {
  return config.workload === 'W3' ? [`u${i}`, `g${Math.floor(i / 10)}`] : ['c'];
}

/** The tag filter of `filterHalf` subscribers (the bench server's `--tags` publishes match it). */
export const BENCH_FILTER = '{"region":"eu"}';

function subscribeFrames(protocol: Protocol, channels: string[], filtered = false): string[] {
  return protocol === 'livehub'
    ? channels.map((c) => `{"type":"subscribe","channel":"${c}"${filtered ? `,"filter":${BENCH_FILTER}` : ''}}`)
    : channels.map((c, k) => `42${k + 1}["subscribe","${c}"]`);
}

/** Frames a connection receives before it is subscribed everywhere. */
function setupFrames(protocol: Protocol, channels: string[]): number {
  return protocol === 'socketio' ? 2 + channels.length : channels.length; // socket.io: open, connect, acks; else subscribed
}

class Subscriber implements FrameSink, EventSink {
  readonly conn: WireConnection | EventStreamConnection;
  setupLeft: number;
  running = false;
  received = 0;
  closed = false;
  ready!: () => void;
  readonly whenReady = new Promise<void>((resolve) => { this.ready = resolve; });

  constructor(readonly config: GenConfig, readonly channels: string[], readonly latencies: number[] | null) {
    this.setupLeft = setupFrames(config.protocol, channels);
    if (config.protocol === 'sse') this.conn = new EventStreamConnection(this);
    else {
      this.conn = new WireConnection(this);
      // Enough of each frame to tell livehub's announcement and heartbeats (onText); the sampled ones, their stamp too.
      this.conn.prefixBytes = latencies ? 120 : 20;
    }
  }

  port = 0;
  /** Subscribes with the tag filter (`filterHalf`). */
  filtered = false;

  async open(): Promise<void> {
    const port = this.port || this.config.port;
    if (this.conn instanceof EventStreamConnection) {
      await this.conn.open(port, `/events?${this.channels.map((c) => `channel=${c}`).join('&')}`);
    } else {
      await this.conn.open(port, PATHS[this.config.protocol], subprotocolOf(this.config.protocol));
      if (this.config.protocol === 'livehub') for (const f of subscribeFrames('livehub', this.channels, this.filtered)) this.conn.send(f);
      else this.conn.send('40');
    }
    await this.whenReady;
  }

  /** An SSE event: a hub message, or livehub's own ("subscribed" counts toward setup). */
  onEvent(livehub: boolean, data: string): void {
    if (!livehub) {
      if (this.running) this.count(data);
    } else if (!this.running && data.startsWith('{"type":"subscribed"')) {
      if (--this.setupLeft === 0) this.ready();
    } else if (data.startsWith('{"type":"error"')) {
      throw new Error(`the stream refused a subscription: ${data}`);
    }
  }

  private count(prefix: string): void {
    this.received++;
    if (this.latencies) {
      const at = prefix.indexOf('"t":');
      if (at >= 0) this.latencies.push(nowMicros() - parseInt(prefix.slice(at + 4, at + 24), 10));
    }
  }

  onText(length: number, prefix: string): void {
    // livehub's first frame (announcing its heartbeat period) and its heartbeats: neither setup nor messages.
    if (this.config.protocol === 'livehub' && (prefix === '{"type":"heartbeat"}' || prefix.startsWith('{"type":"connected"'))) return;
    if (this.config.protocol === 'socketio' && length === 1) {
      if (prefix === '2') (this.conn as WireConnection).send('3'); // engine.io ping
      return;
    }
    if (this.running) return this.count(prefix);
    if (this.config.protocol === 'socketio' && prefix.startsWith('40')) {
      for (const f of subscribeFrames('socketio', this.channels)) (this.conn as WireConnection).send(f);
    }
    if (--this.setupLeft === 0) this.ready();
  }

  onClose(): void {
    this.closed = true;
  }
}

/** Opens `count` connections, at most `parallel` handshakes at a time. */
async function openAll(subscribers: Subscriber[], parallel = 200): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < subscribers.length) await subscribers[next++]!.open();
  };
  await Promise.all(Array.from({ length: parallel }, lane));
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! / 1000;
}

async function main(config: GenConfig): Promise<void> {
  if (config.workload === 'W7') {
    throw new Error('loadgen.ts: W7 needs the C load generator (bench/loadgen.c, built with cc): it binds each connection to its own ' +
      '127.0.0.0/8 source address and raises its open-files limit, which this generator does not; install a C compiler (apt-get install gcc)');
  }
  const lines = createInterface({ input: process.stdin });
  const waitFor = (word: string) => new Promise<void>((resolve) => {
    const on = (line: string) => { if (line.trim() === word) { lines.off('line', on); resolve(); } };
    lines.on('line', on);
  });
  const every = Math.max(1, Math.floor(config.connections / SAMPLED));
  const latencies: number[] = [];
  const subscribers = Array.from({ length: config.connections }, (_, i) => {
    const s = new Subscriber(config, channelsOf(config, i), i % every === 0 ? latencies : null);
    if (config.ports?.length) s.port = config.ports[i % config.ports.length]!;
    s.filtered = config.filterHalf === true && i % 2 === 1;
    return s;
  });
  const setupStart = nowMicros();
  await openAll(subscribers);
  const setupSeconds = (nowMicros() - setupStart) / 1e6;
  const slow = config.workload === 'W4' ? Math.max(1, Math.floor(config.connections * config.slowFraction)) : 0;
  // The slow ones are spread out, none of them sampled for latency.
  const slowSet = new Set<Subscriber>();
  for (let k = 0; k < slow; k++) slowSet.add(subscribers[(k * every + Math.floor(every / 2)) % subscribers.length]!);
  console.log('READY');
  await waitFor('START');

  for (const s of subscribers) s.running = true;
  for (const s of slowSet) s.conn.socket.pause();
  const readers = subscribers.filter((s) => !slowSet.has(s));
  const total = () => { let n = 0; for (const s of readers) n += s.received; return n; };

  const start = nowMicros();
  let publisherProcess: ReturnType<typeof spawn> | null = null;
  let expected = 0;
  let sent = 0;
  let taken = -1; // publishes the server took before it closed the publisher's connection (-1: it did not)
  if (config.workload === 'W5') {
    await new Promise((r) => setTimeout(r, config.duration * 1000));
  } else {
    publisherProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--publisher', JSON.stringify({ config, slow })], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const child = publisherProcess;
    const done = await new Promise<{ sent: number; expected: number }>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.startsWith('DONE ')) resolve(JSON.parse(line.slice(5)));
        if (line.startsWith('CLOSED ')) taken = Number(line.slice(7));
      });
      child.once('exit', (code) => reject(new Error(`publisher exited with ${code}`)));
    });
    sent = done.sent;
    expected = done.expected;
  }
  // Drain: until everything expected has arrived, or 5 s after the last publish.
  const deadline = nowMicros() + DRAIN_MICROS;
  let last = total();
  let lastChange = nowMicros();
  while (total() < expected && nowMicros() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    const now = total();
    if (now !== last) { last = now; lastChange = nowMicros(); }
  }
  const received = total();
  if (received !== last) lastChange = nowMicros();
  // Publishes the server has not read by now count as late: it could not take the offered load.
  await new Promise((r) => setTimeout(r, 50)); // a CLOSED line written just before is read
  publisherProcess?.removeAllListeners('exit');
  publisherProcess?.kill('SIGKILL');
  const publisherClosed = taken >= 0 && taken < sent;
  const all = expectedOf(config, sent), before = publisherClosed ? expectedOf(config, taken) : all;
  let late = 0, dropped = 0, closedReaders = 0;
  subscribers.forEach((s, i) => {
    if (slowSet.has(s)) return;
    const missing = all[i]! - Math.min(s.received, all[i]!), unpublished = all[i]! - before[i]!;
    const cut = s.closed ? missing : Math.min(missing, unpublished);
    closedReaders += s.closed ? 1 : 0;
    dropped += cut;
    late += missing - cut;
  });
  console.log('DRAINED');
  await waitFor('FINISH');
  // The slow ones: a close waits behind what fills their buffers; read it all now (not counted), up to 2 s.
  for (const s of subscribers) s.running = false;
  for (const s of slowSet) s.conn.socket.resume();
  for (const until = Date.now() + 2000; [...slowSet].some((s) => !s.closed) && Date.now() < until;) await new Promise((r) => setTimeout(r, 10));
  const slowClosed = [...slowSet].filter((s) => s.closed).length;
  latencies.sort((a, b) => a - b);
  const elapsed = Math.max(1, lastChange - start) / 1e6;
  const pct = expected ? 100 / expected : 0;
  const result: GenResult = {
    sent, expected, received, late, dropped, latePct: late * pct, droppedPct: dropped * pct, lossPct: (late + dropped) * pct,
    deliveredPerSecond: received / elapsed,
    elapsedSeconds: elapsed,
    p50: percentile(latencies, 50), p99: percentile(latencies, 99), p999: percentile(latencies, 99.9),
    latencySamples: latencies.length,
    closedByServer: closedReaders + slowClosed,
    slowClosed,
    slow,
    publisherClosed: publisherClosed ? 1 : 0,
    publishedBeforeClose: publisherClosed ? taken : sent,
    setupSeconds,
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
  for (const s of subscribers) s.conn.socket.destroy();
  process.exit(0);
}

/** The publisher (child process): one connection, messages stamped with their scheduled time. */
async function publisher(config: GenConfig, slow: number): Promise<void> {
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => { connected = resolve; });
  let written = 0; // publishes handed to the kernel whole
  const conn = new WireConnection({
    onText(length, prefix) {
      if (config.protocol === 'socketio' && prefix.startsWith('40')) connected();
      if (config.protocol === 'socketio' && length === 1 && prefix === '2') conn.send('3');
    },
    // The server closed it: what was not written by now it never took.
    onClose() { console.log(`CLOSED ${written}`); },
  });
  await conn.open(config.port, PATHS[config.protocol], subprotocolOf(config.protocol));
  if (config.protocol === 'socketio') conn.send('40');
  else connected();
  await ready;

  const groupSize = (g: number) => Math.min(10, config.connections - g * 10);
  const groups = Math.ceil(config.connections / 10);
  const pad = 'x'.repeat(Math.max(0, config.size - 60));
  const frameFor = (channel: string, t: number) => {
    const data = `{"t":${t},"p":"${pad}"}`;
    return config.protocol !== 'socketio'
      ? `{"type":"publish","channel":"${channel}","event":"m","data":${data}}`
      : `42["publish",{"channel":"${channel}","event":"m","data":${data}}]`;
  };
  const target = (i: number): [string, number] => {
    if (config.workload !== 'W3') return ['c', config.connections - slow];
    if (i % 2 === 0) { const g = (i / 2) % groups; return [`g${g}`, groupSize(g)]; }
    return [`u${(i * 7919) % config.connections}`, 1];
  };

  const start = nowMicros() + 20_000;
  const bursts = config.workload === 'W2';
  const count = bursts ? config.burst * config.duration : Math.round(config.rate * config.duration);
  const scheduled = (i: number) => bursts
    ? start + Math.floor(i / config.burst) * 1_000_000
    : start + Math.floor((i * 1_000_000) / config.rate);
  let sent = 0;
  let expected = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = nowMicros();
      conn.socket.cork();
      while (sent < count && scheduled(sent) <= now) {
        const [channel, fanout] = target(sent);
        conn.socket.write(clientFrame(frameFor(channel, scheduled(sent))), (error) => { if (!error) written++; });
        expected += fanout;
        sent++;
      }
      conn.socket.uncork();
      if (sent >= count) resolve();
      else setTimeout(tick, Math.max(0, Math.min(1, (scheduled(sent) - nowMicros()) / 1000)));
    };
    tick();
  });
  // Reported when the schedule is done, not when the server has read it all: a server that cannot keep
  // up leaves publishes in the socket, and they count as lost if unread by the end of the drain window.
  console.log(`DONE ${JSON.stringify({ sent, expected })}`);
}

const fail = (error: unknown) => { console.error(error); process.exit(1); };
if (process.argv[2] === '--publisher') {
  const { config, slow } = JSON.parse(process.argv[3]!) as { config: GenConfig; slow: number };
  publisher(config, slow).catch(fail);
} else {
  main(JSON.parse(process.argv[2]!) as GenConfig).catch(fail);
}
