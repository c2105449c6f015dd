/**
 * Repeated runs of one table row (`--runs N`, 3 by default, 1 with `--quick`): the row shows the
 * median of each figure over its runs, and the spread (lowest to highest) of delivered msg/s and p99.
 */

export function runCount(argv: string[]): number {
  const i = argv.indexOf('--runs');
  if (i < 0) return argv.includes('--quick') ? 1 : 3;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--runs takes a whole number of runs, 1 or more (got ${argv[i + 1]})`);
  return n;
}

type Figure = number | null | undefined;
const known = (values: Figure[]): number[] => values.filter((v): v is number => typeof v === 'number' && !Number.isNaN(v));

/** The median of the figures known (the mean of the middle two for an even count), or null when none is. */
export function median(values: Figure[]): number | null {
  const sorted = known(values).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Lowest and highest of the figures known; null unless at least two are. */
export function range(values: Figure[]): { min: number; max: number } | null {
  const all = known(values);
  return all.length < 2 ? null : { min: Math.min(...all), max: Math.max(...all) };
}

/** The runs of a row that produced a result (a failed run has only a note). */
export interface Repeated<R> { runs?: R[]; failedRuns?: number }

/**
 * One row from its runs: the run whose `key` (delivered msg/s) is the median one stands for the row
 * (its note, the figures a note quotes), and `runs` keeps every run with a result for the medians.
 * With no run that produced a result, the last run (its note says why).
 */
export function combine<R extends Repeated<R> & { result?: unknown }>(runs: R[], key: (run: R) => Figure): R {
  const good = runs.filter((r) => r.result !== undefined);
  if (good.length === 0) return runs[runs.length - 1]!;
  const order = [...good].sort((a, b) => (key(a) ?? 0) - (key(b) ?? 0));
  return { ...order[(order.length - 1) >> 1]!, runs: good, failedRuns: runs.length - good.length };
}

/** The median of one figure over a row's runs (the row itself when it was run once). */
export function medianOf<R extends Repeated<R>>(row: R | undefined, figure: (run: R) => Figure): number | null {
  if (!row) return null;
  return median((row.runs ?? [row]).map(figure));
}

/** The figure over a row's runs as lowest and highest. */
export function rangeOf<R extends Repeated<R>>(row: R | undefined, figure: (run: R) => Figure): { min: number; max: number } | null {
  return row ? range((row.runs ?? [row]).map(figure)) : null;
}
