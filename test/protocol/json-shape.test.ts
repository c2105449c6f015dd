import { describe, expect, it } from 'vitest';
import { scanJson } from '../../pkg/protocol/json-shape.js';

describe('scanJson', () => {
  it('accepts nesting exactly at the depth limit and refuses one level more, for objects and arrays alike', () => {
    expect(scanJson('[[[]]]', 3, 100)).toBe('ok');
    expect(scanJson('[[[[]]]]', 3, 100)).toBe('too_deep');
    expect(scanJson('{"a":{"b":{"c":1}}}', 3, 100)).toBe('ok');
    expect(scanJson('{"a":{"b":{"c":{}}}}', 3, 100)).toBe('too_deep');
    expect(scanJson('{"a":[{"b":[]}]}', 3, 100)).toBe('too_deep');
  });

  it('counts depth down again when a level closes, so a wide but shallow message passes', () => {
    const wide = `[${Array.from({ length: 50 }, () => '[[]]').join(',')}]`;
    expect(scanJson(wide, 3, 100)).toBe('ok');
    const wideObjects = `{${Array.from({ length: 20 }, (_, i) => `"k${i}":{"x":{}}`).join(',')}}`;
    expect(scanJson(wideObjects, 3, 100)).toBe('ok');
  });

  it('accepts exactly the key limit and refuses one key more, counting nested keys too', () => {
    expect(scanJson('{"a":1,"b":2,"c":3}', 10, 3)).toBe('ok');
    expect(scanJson('{"a":1,"b":2,"c":3,"d":4}', 10, 3)).toBe('too_many_keys');
    expect(scanJson('{"a":{"b":{"c":1}},"d":0}', 10, 3)).toBe('too_many_keys');
  });

  it('ignores brackets, braces and colons inside strings, including after escaped quotes', () => {
    expect(scanJson('{"a":"[[[[{{{{::::"}', 1, 1)).toBe('ok');
    expect(scanJson('["\\"[[[[", "x"]', 1, 0)).toBe('ok');
    expect(scanJson('["\\\\", [[]]]', 1, 0)).toBe('too_deep');
    expect(scanJson('{"k\\":[[":1}', 1, 1)).toBe('ok');
  });

  it('reports depth before keys when the depth limit is crossed first, and keys when they are', () => {
    expect(scanJson('[[[{"a":1,"b":2}]]]', 2, 1)).toBe('too_deep');
    expect(scanJson('{"a":1,"b":[[[]]]}', 2, 1)).toBe('too_many_keys');
  });

  it('passes malformed text on for JSON.parse to report', () => {
    expect(scanJson('{"a":', 5, 5)).toBe('ok');
    expect(scanJson(']]]]', 1, 1)).toBe('ok');
    expect(scanJson('', 0, 0)).toBe('ok');
  });
});
