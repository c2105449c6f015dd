import { describe, expect, it } from 'vitest';
import { checkKnownOptions, closestOption, editDistance } from '../pkg/options-check.js';

const known = ['origins', 'path', 'history', 'heartbeatInterval'] as const;

describe('checkKnownOptions', () => {
  it('accepts options that are all known, and no options at all', () => {
    expect(() => checkKnownOptions({ origins: [], path: '/ws' }, known, 'new Hub()')).not.toThrow();
    expect(() => checkKnownOptions({}, known, 'new Hub()')).not.toThrow();
    expect(() => checkKnownOptions(undefined, known, 'new Hub()')).not.toThrow();
  });

  it('throws a TypeError naming a misspelt option, the call, and the closest valid option', () => {
    expect(() => checkKnownOptions({ orgins: ['x'] }, known, 'new Hub()'))
      .toThrow(new TypeError("livehub: unknown option 'orgins' for new Hub(); did you mean 'origins'?"));
    expect(() => checkKnownOptions({ heartbeatInterva: 1 }, known, 'new Hub()')).toThrow("did you mean 'heartbeatInterval'?");
    expect(() => checkKnownOptions({ Path: '/' }, known, 'new Hub()')).toThrow("did you mean 'path'?");
  });

  it('lists the valid options when nothing is close to the unknown one', () => {
    expect(() => checkKnownOptions({ zzzzzz: 1 }, known, 'new RedisEngine()'))
      .toThrow("livehub: unknown option 'zzzzzz' for new RedisEngine(); valid options are 'origins', 'path', 'history', 'heartbeatInterval'");
  });

  it('throws even when the unknown option is set to undefined', () => {
    expect(() => checkKnownOptions({ histroy: undefined }, known, 'new Hub()')).toThrow(TypeError);
  });
});

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and swaps of neighbours as one edit each', () => {
    expect(editDistance('origins', 'origins')).toBe(0);
    expect(editDistance('orgins', 'origins')).toBe(1);
    expect(editDistance('origns', 'origins')).toBe(1);
    expect(editDistance('oirgins', 'origins')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closestOption('hsitory', known)).toBe('history');
  });
});
