import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `npm run bench -- --profile`: where livehub's server spends its CPU, per publish, per delivery and
 * per write, from a V8 CPU profile of the bench server (`--cpu-prof`) and the run's counts. Frames
 * are matched by function name, so the rows follow the source: inbound (`socketOnData`: ws's frame
 * parser, the router's limits, JSON parse and validation, the policy), the engine's append
 * (`publish` in engine/memory), the per-channel encode (`encodeMessages`), the fan-out's per-client
 * queueing (`fanOut`), the flush (`flush` in writes.ts) split into the kernel's write (`writeBuffer`,
 * `writev`) and the JavaScript around it, and the garbage collector.
 */

interface ProfileNode { id: number; callFrame: { functionName: string; url: string }; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

export interface Counts { publishes: number; deliveries: number; writes: number }

/** The profile's rows: [what, milliseconds, per what, count]. */
export function breakdown(profile: CpuProfile, counts: Counts): Array<{ what: string; ms: number; per: keyof Counts }> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const name = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}`;
  const inclusive = new Map<number, number>();
  const sum = (id: number): number => {
    let t = self.get(id) ?? 0;
    for (const child of byId.get(id)!.children ?? []) t += sum(child);
    inclusive.set(id, t);
    return t;
  };
  const root = profile.nodes[0]!.id;
  sum(root);
  /** Inclusive µs of the outermost frames matching `re`, excluding subtrees matching `except`. */
  const time = (re: RegExp, except?: RegExp): number => {
    let total = 0;
    const within = (id: number): number => {
      const n = byId.get(id)!;
      if (except?.test(name(n))) return 0;
      let t = self.get(id) ?? 0;
      for (const child of n.children ?? []) t += within(child);
      return t;
    };
    const walk = (id: number) => {
      const n = byId.get(id)!;
      if (re.test(name(n))) { total += except ? within(id) : inclusive.get(id)!; return; }
      for (const child of n.children ?? []) walk(child);
    };
    walk(root);
    return total / 1000;
  };
  const selfOf = (re: RegExp) => profile.nodes.filter((n) => re.test(name(n))).reduce((t, n) => t + (self.get(n.id) ?? 0), 0) / 1000;
  const kernel = selfOf(/^(writeBuffer|writev) /);
  return [
    { what: 'inbound: ws frames, limits, JSON parse and validation, policy', ms: time(/^socketOnData /, /^publish engine\/memory/), per: 'publishes' },
    { what: 'engine append (memory engine)', ms: time(/^publish engine\/memory/), per: 'publishes' },
    { what: 'per-channel encode', ms: time(/^encodeMessages /), per: 'publishes' },
    { what: 'fan-out: per-client queueing', ms: time(/^fanOut /, /^encodeMessages /), per: 'deliveries' },
    { what: 'the turn besides fan-out and flush (batches, except-self, replies)', ms: time(/^turn (realtime|core)\//, /^fanOut |^flush (realtime|core)\/writes/), per: 'publishes' },
    { what: 'flush, JavaScript: queue, concat, Node\'s stream', ms: time(/^flush (realtime|core)\/writes/) - kernel, per: 'writes' },
    { what: 'flush, the kernel\'s write (loopback TCP, receive side included)', ms: kernel, per: 'writes' },
    { what: 'garbage collector', ms: selfOf(/^\(garbage collector\)/), per: 'deliveries' },
  ];
}

const SINGULAR: Record<keyof Counts, string> = { publishes: 'publish', deliveries: 'delivery', writes: 'write' };

/** The breakdown as a markdown table, µs per item and per delivery. */
export function breakdownTable(profile: CpuProfile, counts: Counts): string {
  const lines = ['| cost | ms in profile | µs each | each is a | µs per delivery |', '| --- | ---: | ---: | --- | ---: |'];
  for (const row of breakdown(profile, counts)) {
    const each = counts[row.per] > 0 ? (row.ms * 1000) / counts[row.per] : NaN;
    lines.push(`| ${row.what} | ${row.ms.toFixed(0)} | ${each.toFixed(2)} | ${SINGULAR[row.per]} | ${((row.ms * 1000) / counts.deliveries).toFixed(2)} |`);
  }
  return lines.join('\n');
}

/** Reads the main thread's profile in `dir`, and removes every profile there. */
export function takeProfile(dir: string): CpuProfile | null {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  } catch {
    return null; // no profile was written
  }
  // One file per thread (tsx's loader runs in a worker): the main thread's is by far the largest.
  const main = files.map((f) => ({ f, size: statSync(join(dir, f)).size })).sort((a, b) => b.size - a.size)[0]?.f;
  if (!main) return null;
  const profile = JSON.parse(readFileSync(join(dir, main), 'utf8')) as CpuProfile;
  for (const f of files) rmSync(join(dir, f));
  return profile;
}
