import { describe, expect, it } from 'vitest';
import { combine, median, medianOf, range, rangeOf, runCount } from '../../bench/repeat.js';

interface Run { result?: { msgs: number | null }; note?: string; runs?: Run[]; failedRuns?: number }
const run = (msgs: number | null): Run => ({ result: { msgs } });
const failed = (note: string): Run => ({ note });

describe('bench repeated runs', () => {
  it('takes the median of the figures known, the middle two averaged for an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5, null, undefined, Number.NaN, 1, 3])).toBe(3);
    expect(median([null, undefined])).toBeNull();
  });

  it('gives a range only from two figures on', () => {
    expect(range([7])).toBeNull();
    expect(range([7, null, 2, 9])).toEqual({ min: 2, max: 9 });
  });

  it('lets the run with the median key stand for the row and keeps every run with a result', () => {
    const runs = [run(30), failed('failed: timed out'), run(10), run(20)];
    const row = combine(runs, (r) => r.result?.msgs);
    expect(row.result).toEqual({ msgs: 20 });
    expect(row.runs).toHaveLength(3);
    expect(row.failedRuns).toBe(1);
    expect(medianOf(row, (r) => r.result?.msgs)).toBe(20);
    expect(rangeOf(row, (r) => r.result?.msgs)).toEqual({ min: 10, max: 30 });
  });

  it('keeps the last run, with its note, when none produced a result', () => {
    const row = combine([failed('failed: one'), failed('failed: two')], (r) => r.result?.msgs);
    expect(row.note).toBe('failed: two');
    expect(row.runs).toBeUndefined();
    expect(medianOf(row, (r) => r.result?.msgs)).toBeNull();
  });

  it('reads a figure of a row run once from the row itself', () => {
    expect(medianOf(run(42), (r) => r.result?.msgs)).toBe(42);
    expect(rangeOf(run(42), (r) => r.result?.msgs)).toBeNull();
  });

  it('runs every row 3 times, once with --quick, and refuses a count that is not a whole number from 1', () => {
    expect(runCount(['node', 'run.ts'])).toBe(3);
    expect(runCount(['node', 'run.ts', '--quick'])).toBe(1);
    expect(runCount(['node', 'run.ts', '--quick', '--runs', '2'])).toBe(2);
    expect(() => runCount(['node', 'run.ts', '--runs', '0'])).toThrow(TypeError);
    expect(() => runCount(['node', 'run.ts', '--runs', 'two'])).toThrow(/whole number/);
    expect(() => runCount(['node', 'run.ts', '--runs'])).toThrow(TypeError);
  });
});
