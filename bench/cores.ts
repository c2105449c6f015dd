/**
 * Rows with the server on two cores (bench/run.ts): livehub as two processes on two ports sharing
 * Redis (Node 20 has no `reusePort`; the load generator spreads its subscribers over both ports and
 * publishes through the first), and Centrifuge with GOMAXPROCS=2, in the W1 rows at 100 B and
 * 1,000/s and the W3 saturation rows. Every other row keeps the server on core 0 and the generator
 * on core 1. Here the server's processes (or threads) may run on both cores, so they share core 1
 * with the generator: these rows show what a second core gives each server when the generator
 * takes part of it, not what a machine with two cores to itself would do.
 */

interface Scenario { label: string; halfOf?: string }

const W1_AT_100_BYTES = /^W1 \d+k subs × 1000\/s × 100 B$/;
/** W1 at 1k, 5k and 10k subscribers (1,000/s × 100 B), and W3 saturated and at half of livehub's capacity. */
const twoCoreRows = (s: Scenario) => W1_AT_100_BYTES.test(s.label) || s.label === 'W3 10k conns, personal + group of 10, 200000/s offered' ||
  (s.halfOf !== undefined && s.label.startsWith('W3 '));

/** Server kinds for bench/run.ts's SERVERS. */
export const TWO_CORES = [
  { name: 'livehub (js) ×2 processes + Redis', script: 'bench/servers/livehub.ts', args: ['--codec', 'js'], protocol: 'livehub' as const,
    nodes: 2, redis: true, cores: 2, only: twoCoreRows },
  { name: 'Centrifuge 0.15 (Go), GOMAXPROCS=2', script: 'bench/servers/centrifuge/main.go', args: [], protocol: 'centrifuge' as const,
    go: 'centrifuge' as const, cores: 2, only: twoCoreRows },
];

/** The cores a server's processes may run on, for taskset: core 0, or the first `cores` of the machine's. */
export function coreList(cores: number | undefined, machine: number): number | string {
  if (cores === undefined || cores <= 1) return 0;
  return `0-${Math.min(cores, machine) - 1}`;
}

/** A two-core row's note: where its processes ran and what its figures sum. */
export function coresNote(kind: { cores?: number; nodes?: number; go?: string }, pinned: boolean): string | undefined {
  if (kind.cores === undefined || kind.cores <= 1) return undefined;
  const where = pinned ? `on cores 0-${kind.cores - 1}, sharing core 1 with the load generator (pinned there)` : 'unpinned, sharing the cores with the load generator';
  return kind.go
    ? `GOMAXPROCS=${kind.cores}, ${where}`
    : `${kind.nodes ?? 1} processes ${where}; CPU and RSS summed over them (Redis's not counted)`;
}
