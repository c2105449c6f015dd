import { afterEach, describe, expect, it, vi } from 'vitest';
import { engineConformance, MemoryEngine, type Publication } from 'livehub/engine';

engineConformance('MemoryEngine', { describe, it, afterEach }, { acknowledgements: true, make: () => ({ engine: new MemoryEngine() }) });

const keep = { size: 5, ttl: 60_000 };
let engines: MemoryEngine[] = [];
function engine(options?: ConstructorParameters<typeof MemoryEngine>[0]) {
  const e = new MemoryEngine(options);
  engines.push(e);
  const seen: Publication[] = [];
  e.start({ node: 'n1', deliver: (p) => seen.push(p), reset: () => {}, message: () => {} });
  return { e, seen };
}
afterEach(() => { engines.forEach((e) => e.close()); engines = []; vi.useRealTimers(); });

describe('MemoryEngine', () => {
  it('starts new epochs in a new engine (a restart)', () => {
    const first = engine().e;
    const second = engine().e;
    first.publish('a', 't', '1', keep);
    second.publish('a', 't', '1', keep);
    expect(first.history('a', null).position.epoch).not.toBe(second.history('a', null).position.epoch);
  });

  it('forgets an idle channel with no history left, which comes back with a new epoch', () => {
    vi.useFakeTimers();
    const { e } = engine({ idleTtl: 1000, sweepInterval: 500 });
    e.publish('a', 't', '1', { size: 10, ttl: 100 });
    const before = e.history('a', null).position;
    vi.advanceTimersByTime(3000);
    const after = e.history('a', null).position;
    expect(after.epoch).not.toBe(before.epoch);
    expect(after.offset).toBe(0);
  });

  it('throws a TypeError naming an unknown option and the closest valid one', () => {
    expect(() => new MemoryEngine({ idleTTL: 5 } as never)).toThrow(new TypeError("livehub: unknown option 'idleTTL' for new MemoryEngine(); did you mean 'idleTtl'?"));
  });
});
