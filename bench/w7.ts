import { connectionLimits, ensureFileLimit, SPARE_FILES } from './file-limit.js';

/**
 * W7, many idle subscribed connections on one node: the row as this machine can run it (open-file
 * limits, see file-limit.ts), and its note (connect rate, and where the memory per connection is).
 */

interface W7Scenario { label: string; config: { connections: number } }

/**
 * The scenario to run, or null, with a note for the rows skipped. When the open-files limit is too
 * low for the listed count and cannot be raised, the listed rows are skipped (the note says what to
 * run) and the scenario runs instead at the largest round count the limit allows, labelled so.
 */
export function planW7<T extends W7Scenario>(scenario: T, nativeGenerator: boolean): { run: T | null; skipped?: string } {
  if (!nativeGenerator) return { run: null, skipped: 'skipped: W7 needs the C load generator (bench/loadgen.c; apt-get install gcc)' };
  const limits = connectionLimits(scenario.config.connections);
  if (limits) console.error(`  W7: this machine may hold back ${scenario.config.connections} loopback connections: ${limits}`);
  const plan = ensureFileLimit(scenario.config.connections + SPARE_FILES);
  if (plan.ok) return { run: scenario };
  const skipped = `skipped: ${plan.why}`;
  const largest = Math.floor((plan.limit - SPARE_FILES) / 1000) * 1000;
  if (largest < 1000) return { run: null, skipped };
  const label = `${scenario.label.replace(/^W7 [\d.,]+k?/, `W7 ${largest / 1000}k`)}, at this machine's open-files limit (${plan.limit})`;
  return { run: { ...scenario, label, config: { ...scenario.config, connections: largest } }, skipped };
}

type Stats = Record<string, number> | undefined;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
const rate = (n: number, seconds: number) => Math.round(n / seconds).toLocaleString('en-US');

/**
 * Setup and connect rate, and the memory per 1,000 connections (after a GC): RSS while idle (before
 * the broadcasts; the table's RSS MB/1k is after them), and after them split by where it is.
 */
export function w7Note(connections: number, result: Record<string, number | null> | undefined, before: Stats, idle: Stats, after: Stats, channels = true): string {
  if (!result) return '';
  const setup = Number(result.setupSeconds), connect = Number(result.connectSeconds);
  // Setups overlap (200 at a time), so the last upgrade is answered just before the last subscribe unless subscribing lags.
  const upgrades = connect > 0 && connect < setup * 0.95 ? `${rate(connections, connect)} upgrades/s, ` : '';
  const what = channels ? 'upgraded and subscribed (2 channels each)' : 'upgraded (a hub without channels: every message to everyone)';
  const parts = [`setup ${setup.toFixed(1)} s: ${upgrades}${rate(connections, setup)} conns/s ${what}`];
  const k = connections / 1000;
  if (before && idle) parts.push(`idle RSS ${mb((idle.rss! - before.rss!) / k)} MB/1k`);
  if (before && after && after.heapTotal !== undefined) {
    const per = (key: string) => (after[key]! - before[key]!) / k;
    const native = per('rss') - per('heapTotal') - per('external');
    parts.push(`after, per 1k: heap ${mb(per('heapUsed'))} MB used (${mb(per('heapTotal'))} committed), external ${mb(per('external'))} MB, ` +
      `other native ${mb(native)} MB`);
  }
  return parts.join('; ');
}
