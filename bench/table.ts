import { medianOf, rangeOf, type Repeated } from './repeat.js';
import { w7Note } from './w7.js';

/**
 * The table `npm run bench` prints: one row per workload and server, each figure the median over the
 * row's runs (bench/repeat.ts), with ratios against the naive hub and against the C reference server.
 */

/** The C reference server's name: "× limit" is a row's delivered msg/s over its, in the same workload. */
export const LIMIT = 'limit (C reference)';
const NAIVE = 'naive ws';
/** SSE rows are compared with the naive SSE fan-out. */
const NAIVE_SSE = 'naive SSE';

type Stats = Record<string, number>;
export interface Row extends Repeated<Row> {
  scenario: { label: string; halfOf?: string; config: { workload: string; connections: number } };
  server: string;
  protocol?: string;
  result?: Record<string, number | null>;
  server0?: Stats; server1?: Stats; before?: Stats;
  note?: string;
}
/** What the table needs to know of a server. */
export interface ServerInfo {
  /** A feature turned on: the row's note compares it with this server's row (the feature off). */
  versus?: string;
  /** False for a hub without channels. */
  channels?: boolean;
}

export const fmt = (n: number | null | undefined, digits = 0) =>
  n === null || n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Server CPU per delivered message (µs). */
export function cpuPerMessage(run: Row | undefined): number | null {
  const s0 = run?.server0, s1 = run?.server1, received = run?.result?.received;
  return s0 && s1 && received ? (s1.cpuMicros! - s0.cpuMicros!) / received : null;
}

/** A counter the server keeps, over the run (null when it keeps none). */
const counted = (run: Row, key: string) => (run.server0?.[key] !== undefined && run.server1?.[key] !== undefined ? run.server1[key]! - run.server0[key]! : null);

const msgs = (run: Row) => run.result?.deliveredPerSecond;
const p99 = (run: Row) => run.result?.p99;
const ratio = (on: number | null, base: number | null) => (on !== null && base ? `${fmt(on / base, 2)}×` : '–');

/** A feature's cost: this row over the row without it (`versus`), as ratios of the medians. */
function versusNote(row: Row, off: Row | undefined, versus: string): string {
  if (!off?.result || !row.result) return '';
  const both = (f: (run: Row) => number | null | undefined) => ratio(medianOf(row, f), medianOf(off, f));
  const w5 = row.scenario.config.workload === 'W5';
  return `on/off vs ${versus}: ${w5 ? '' : `msg/s ${both(msgs)}, CPU/msg ${both(cpuPerMessage)}, `}p99 ${both(p99)}, ` +
    `RSS ${both((run) => run.server1?.rss)}`;
}

/** What the servers closed: slow subscribers (W4), clients by the server's own count, the publisher. */
function closesNote(row: Row): string[] {
  const r = row.result!, parts: string[] = [];
  const runs = row.runs ?? [row];
  if (Number(r.slow) > 0) {
    const evicted = medianOf(row, (run) => counted(run, 'evictions'));
    parts.push(`${fmt(medianOf(row, (run) => run.result?.slowClosed))}/${r.slow} slow closed by the server` + (evicted !== null ? ` (${fmt(evicted)} evicted with 4001 by its count)` : ''));
  }
  const disconnected = medianOf(row, (run) => counted(run, 'disconnected'));
  if (disconnected) parts.push(`disconnected ${fmt(disconnected)} client${disconnected === 1 ? '' : 's'} (its own count)`);
  const cut = runs.filter((run) => run.result?.publisherClosed);
  if (cut.length > 0) {
    parts.push(`closed the publisher after ${fmt(medianOf({ runs: cut } as Row, (run) => run.result?.publishedBeforeClose))} of ${fmt(Number(r.sent))} publishes` +
      (runs.length > 1 ? ` (${cut.length} of ${runs.length} runs)` : ''));
  }
  return parts;
}

export function table(rows: Row[], info: (server: string) => ServerInfo | undefined): string {
  const out = [
    '| workload | server | delivered msg/s | spread msg/s | × naive (SSE: × naive SSE; W6: × one node) | × limit | late | dropped | closed by server | p50 ms | p99 ms | p99 min–max ms | p99.9 ms | CPU µs/msg | RSS MB | RSS MB/1k conns | frames/write | loop delay p99 ms | note |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const row of rows) {
    const r = row.result;
    const m = (f: (run: Row) => number | null | undefined) => medianOf(row, f);
    const same = (server: string) => rows.find((x) => x.scenario === row.scenario && x.server === server && x.result);
    const { workload, connections } = row.scenario.config;
    const peer = same(workload === 'W6' ? 'livehub (js)' : row.protocol === 'sse' ? NAIVE_SSE : NAIVE);
    const limit = same(LIMIT);
    const delivered = m(msgs);
    const spread = rangeOf(row, msgs);
    const p99s = rangeOf(row, p99);
    const perK = m((run) => (run.server1 && run.before ? (run.server1.rss! - run.before.rss!) / 2 ** 20 / (connections / 1000) : null));
    const fpw = m((run) => (run.server0 && run.server1?.writes !== undefined ? (run.server1.frames! - run.server0.frames!) / Math.max(1, run.server1.writes - run.server0.writes!) : null));
    const notes: string[] = [];
    if (row.note) notes.push(row.note);
    if (r) {
      notes.push(...closesNote(row));
      if (workload === 'W7') notes.push(w7Note(connections, r, row.before, row.server0, row.server1, info(row.server)?.channels !== false));
      const versus = info(row.server)?.versus;
      if (versus) notes.push(versusNote(row, same(versus), versus));
      if (row.scenario.halfOf && limit && row.server !== LIMIT) notes.push(`p99 ${ratio(m(p99), medianOf(limit, p99))} the limit's`);
      if (row.failedRuns) notes.push(`${row.failedRuns} of ${row.failedRuns + row.runs!.length} runs failed`);
    }
    const w5 = workload === 'W5';
    const pct = (f: (run: Row) => number | null | undefined) => (w5 || !r ? '–' : `${fmt(m(f), 2)}%`);
    out.push(`| ${row.scenario.label} | ${row.server} | ${w5 ? '–' : fmt(delivered)} | ${w5 || !spread || !delivered ? '–' : `±${fmt((50 * (spread.max - spread.min)) / delivered, 1)}%`} | ` +
      `${w5 ? '–' : fmt(peer && delivered !== null ? delivered / medianOf(peer, msgs)! : null, 1)} | ${w5 || !limit ? '–' : fmt(delivered !== null ? delivered / medianOf(limit, msgs)! : null, 2)} | ` +
      `${pct((run) => run.result?.latePct)} | ${pct((run) => run.result?.droppedPct)} | ${r ? fmt(m((run) => run.result?.closedByServer)) : '–'} | ` +
      `${fmt(m((run) => run.result?.p50), 1)} | ${fmt(m(p99), 1)} | ${p99s ? `${fmt(p99s.min, 1)}–${fmt(p99s.max, 1)}` : '–'} | ${fmt(m((run) => run.result?.p999), 1)} | ` +
      `${w5 ? '–' : fmt(m(cpuPerMessage), 2)} | ${fmt(m((run) => (run.server1 ? run.server1.rss! / 2 ** 20 : null)))} | ${fmt(perK, 2)} | ${fmt(fpw, 1)} | ` +
      `${fmt(m((run) => run.server1?.eldP99Ms), 1)} | ${notes.filter((n) => n !== '').join('; ')} |`);
  }
  return out.join('\n');
}
