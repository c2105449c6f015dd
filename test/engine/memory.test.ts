import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Publication } from '../../pkg/engine/engine.js';
import { MemoryEngine } from '../../pkg/engine/memory.js';

const keep = { size: 5, ttl: 60_000 };
let engines: MemoryEngine[] = [];
function engine(options?: ConstructorParameters<typeof MemoryEngine>[0]) {
  const e = new MemoryEngine(options);
  engines.push(e);
  const seen: Publication[] = [];
  e.start({ deliver: (p) => seen.push(p), reset: () => {} });
  return { e, seen };
}
afterEach(() => { engines.forEach((e) => e.close()); engines = []; vi.useRealTimers(); });

describe('MemoryEngine', () => {
  it('gives each channel offsets that increase by one, and delivers them in order with the offset in the JSON', () => {
    const { e, seen } = engine();
    expect(e.publish('a', 't', '1', keep)).toMatchObject({ offset: 1 });
    expect(e.publish('a', 't', '2', keep)).toMatchObject({ offset: 2 });
    expect(e.publish('b', 't', '"x"', keep)).toMatchObject({ offset: 1 });
    expect(seen.map((p) => [p.channel, p.offset])).toEqual([['a', 1], ['a', 2], ['b', 1]]);
    expect(JSON.parse(seen[1]!.payload)).toEqual({ channel: 'a', type: 't', data: 2, offset: 2 });
  });

  it('replays exactly the publications after a position in the window', () => {
    const { e } = engine();
    for (let i = 1; i <= 4; i++) e.publish('a', 't', String(i), keep);
    const { epoch } = e.position('a');
    const result = e.history('a', { offset: 1, epoch });
    expect(result.recovered).toBe(true);
    expect(result.publications.map((p) => p.offset)).toEqual([2, 3, 4]);
    expect(result.position).toEqual({ offset: 4, epoch });
    expect(e.history('a', { offset: 4, epoch })).toMatchObject({ recovered: true, publications: [] });
  });

  it('never replays a partial range: a position older than the window is not recovered', () => {
    const { e } = engine();
    for (let i = 1; i <= 9; i++) e.publish('a', 't', String(i), keep); // keeps 5..9
    const { epoch } = e.position('a');
    expect(e.history('a', { offset: 4, epoch }).recovered).toBe(true);
    expect(e.history('a', { offset: 3, epoch })).toMatchObject({ recovered: false, publications: [] });
  });

  it('does not recover a position from another epoch, or from the future', () => {
    const { e } = engine();
    e.publish('a', 't', '1', keep);
    const { epoch } = e.position('a');
    expect(e.history('a', { offset: 0, epoch: 'other' })).toMatchObject({ recovered: false, publications: [] });
    expect(e.history('a', { offset: 9, epoch })).toMatchObject({ recovered: false });
  });

  it('starts new epochs in a new engine (a restart)', () => {
    const first = engine().e;
    const second = engine().e;
    first.publish('a', 't', '1', keep);
    second.publish('a', 't', '1', keep);
    expect(first.position('a').epoch).not.toBe(second.position('a').epoch);
  });

  it('drops publications older than ttl, and then does not recover across them', () => {
    vi.useFakeTimers();
    const { e } = engine();
    e.publish('a', 't', '1', { size: 10, ttl: 1000 });
    vi.advanceTimersByTime(1500);
    e.publish('a', 't', '2', { size: 10, ttl: 1000 });
    const { epoch } = e.position('a');
    expect(e.history('a', { offset: 1, epoch })).toMatchObject({ recovered: true });
    expect(e.history('a', { offset: 0, epoch })).toMatchObject({ recovered: false });
  });

  it('keeps positions but no history with size 0', () => {
    const { e } = engine();
    e.publish('typing', 't', '1', { size: 0, ttl: 1000 });
    e.publish('typing', 't', '2', { size: 0, ttl: 1000 });
    const position = e.position('typing');
    expect(position.offset).toBe(2);
    expect(e.history('typing', { offset: 1, epoch: position.epoch }).recovered).toBe(false);
    expect(e.history('typing', { offset: 2, epoch: position.epoch }).recovered).toBe(true);
  });

  it('forgets an idle channel with no history left, which comes back with a new epoch', () => {
    vi.useFakeTimers();
    const { e } = engine({ idleTtl: 1000, sweepInterval: 500 });
    e.publish('a', 't', '1', { size: 10, ttl: 100 });
    const before = e.position('a');
    vi.advanceTimersByTime(3000);
    const after = e.position('a');
    expect(after.epoch).not.toBe(before.epoch);
    expect(after.offset).toBe(0);
  });

  it('claims a key once per ttl', () => {
    vi.useFakeTimers();
    const { e } = engine();
    expect(e.claim('k', 1000)).toBe(true);
    expect(e.claim('k', 1000)).toBe(false);
    vi.advanceTimersByTime(1001);
    expect(e.claim('k', 1000)).toBe(true);
  });
});
