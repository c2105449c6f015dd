import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryEngine, type PresenceEntry, type Publication } from 'livehub/engine';

let engines: MemoryEngine[] = [];
function engine(options?: ConstructorParameters<typeof MemoryEngine>[0]) {
  const e = new MemoryEngine(options);
  engines.push(e);
  const seen: Publication[] = [];
  e.start({ node: 'n1', deliver: (p) => seen.push(p), reset: () => {}, message: () => {} });
  return e;
}
const member = (clientId: string, userId: string): PresenceEntry => ({ clientId, userId, status: 'online' });
beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { engines.forEach((e) => e.close()); engines = []; vi.useRealTimers(); });

describe('MemoryEngine publishing', () => {
  it('refuses an idempotency key without a whole positive time to keep it', () => {
    const e = engine();
    const message = 'livehub: publish with an idempotencyKey needs idempotencyTtl, a number of milliseconds >= 1';
    for (const idempotencyTtl of [undefined, 0, 0.5, -5, '5000' as unknown as number]) {
      expect(() => e.publish('a', 't', '1', { size: 0, ttl: 0 }, { idempotencyKey: 'k', idempotencyTtl })).toThrow(new TypeError(message));
    }
    expect(e.publish('a', 't', '1', { size: 0, ttl: 0 }, { idempotencyKey: 'k', idempotencyTtl: 1 })).toEqual({ offset: 1, epoch: expect.any(String) });
  });

  it('answers a repeated key as a duplicate until the moment its time runs out, and publishes anew from then', () => {
    const e = engine();
    const first = e.publish('a', 't', '1', { size: 0, ttl: 0 }, { idempotencyKey: 'k', idempotencyTtl: 100 });
    vi.advanceTimersByTime(99);
    expect(e.publish('a', 't', '1', { size: 0, ttl: 0 }, { idempotencyKey: 'k', idempotencyTtl: 100 })).toEqual({ ...first, duplicate: true });
    vi.advanceTimersByTime(1);
    expect(e.publish('a', 't', '1', { size: 0, ttl: 0 }, { idempotencyKey: 'k', idempotencyTtl: 100 })).toEqual({ offset: 2, epoch: first.epoch });
  });

  it('keeps an idempotency key through the periodic sweeps while its time lasts', () => {
    const e = engine({ sweepInterval: 1000 });
    const first = e.publish('a', 't', '1', { size: 0, ttl: 0 }, { idempotencyKey: 'k', idempotencyTtl: 60_000 });
    vi.advanceTimersByTime(30_000);
    expect(e.publish('a', 't', '1', { size: 0, ttl: 0 }, { idempotencyKey: 'k', idempotencyTtl: 60_000 })).toEqual({ ...first, duplicate: true });
  });

  it('stores copies of tags, sender and trace, and adds none the publisher did not give', () => {
    const e = engine();
    const tags = { kind: 'a' };
    const from = { clientId: 'c1', userId: 'ada' };
    const trace = { traceparent: '00-1-2-01' };
    e.publish('a', 't', '1', { size: 5, ttl: 60_000 }, { tags, from, trace } as never);
    e.publish('a', 't', '2', { size: 5, ttl: 60_000 });
    tags.kind = 'changed';
    from.userId = 'mallory';
    trace.traceparent = 'changed';
    const [withAll, bare] = e.history('a', { offset: 0, epoch: e.history('a', null).position.epoch }).publications;
    expect(withAll).toMatchObject({ tags: { kind: 'a' }, from: { clientId: 'c1', userId: 'ada' }, trace: { traceparent: '00-1-2-01' } });
    expect(Object.keys(bare!).filter((k) => k === 'tags' || k === 'from' || k === 'trace')).toEqual([]);
  });

  it('keeps exactly the last `size` publications, and offsets stay right after many publishes', () => {
    const e = engine();
    for (let i = 1; i <= 200; i++) e.publish('a', 't', String(i), { size: 10, ttl: 60_000 });
    const { epoch } = e.history('a', null).position;
    expect(e.history('a', { offset: 189, epoch }).recovered).toBe(false);
    const kept = e.history('a', { offset: 190, epoch });
    expect(kept.recovered).toBe(true);
    expect(kept.publications.map((p) => p.data)).toEqual(Array.from({ length: 10 }, (_, i) => String(191 + i)));
    expect(e.history('a', { offset: 195, epoch }).publications.map((p) => p.offset)).toEqual([196, 197, 198, 199, 200]);
  });

  it('counts only live entries against the size after older ones expired', () => {
    const e = engine();
    for (let i = 1; i <= 3; i++) e.publish('a', 't', String(i), { size: 5, ttl: 100 });
    vi.advanceTimersByTime(150);
    const { epoch } = e.history('a', null).position;
    expect(e.history('a', { offset: 2, epoch }).recovered).toBe(false);
    e.publish('a', 't', '4', { size: 5, ttl: 100 });
    const after = e.history('a', { offset: 3, epoch });
    expect(after).toMatchObject({ recovered: true });
    expect(after.publications.map((p) => p.data)).toEqual(['4']);
  });

  it('expires a publication at exactly its time to live', () => {
    const e = engine();
    e.publish('a', 't', '1', { size: 5, ttl: 100 });
    e.publish('b', 't', '1', { size: 5, ttl: 100 });
    const epochA = e.history('a', null).position.epoch;
    const epochB = e.history('b', null).position.epoch;
    vi.advanceTimersByTime(99);
    expect(e.history('a', { offset: 0, epoch: epochA }).publications).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(e.history('b', { offset: 0, epoch: epochB })).toMatchObject({ recovered: false, publications: [] });
  });
});

describe('MemoryEngine idle channels', () => {
  it('keeps a channel that still holds history past the idle time, so positions stay recoverable', () => {
    const e = engine({ idleTtl: 1000, sweepInterval: 500 });
    e.publish('a', 't', '1', { size: 5, ttl: 60_000 });
    const { epoch } = e.history('a', null).position;
    vi.advanceTimersByTime(5000);
    expect(e.history('a', { offset: 0, epoch })).toMatchObject({ recovered: true, position: { offset: 1, epoch } });
  });

  it('keeps a channel without history while it is used within the idle time, and until exactly that time', () => {
    const e = engine({ idleTtl: 1000, sweepInterval: 100 });
    e.publish('a', 't', '1', { size: 0, ttl: 0 });
    const { epoch } = e.history('a', null).position;
    vi.advanceTimersByTime(900);
    expect(e.history('a', null).position).toEqual({ offset: 1, epoch });
    vi.advanceTimersByTime(1000);
    expect(e.history('a', null).position).toEqual({ offset: 1, epoch });
  });

  it('forgets an unused channel without history after five minutes by default, and not before', () => {
    const e = engine();
    e.publish('a', 't', '1', { size: 0, ttl: 0 });
    const { epoch } = e.history('a', null).position;
    vi.advanceTimersByTime(4 * 60_000 + 50_000);
    expect(e.history('a', null).position.epoch).toBe(epoch);
    // Looking refreshes the channel's use: from here it is forgotten after five idle minutes.
    vi.advanceTimersByTime(5 * 60_000 + 20_000);
    expect(e.history('a', null).position).toEqual({ offset: 0, epoch: expect.not.stringMatching(epoch) });
  });
});

describe('MemoryEngine presence', () => {
  it('tells a user\'s first connection apart while other users are present', () => {
    const e = engine();
    expect(e.addPresence('room', member('c1', 'ada'), 10_000)).toBe(true);
    expect(e.addPresence('room', member('c2', 'bob'), 10_000)).toBe(true);
    expect(e.addPresence('room', member('c3', 'ada'), 10_000)).toBe(false);
    expect(e.addPresence('room', member('c2', 'bob'), 10_000)).toBe(false);
  });

  it('treats a connection whose presence expired (not yet swept) as gone, from the moment it expires', () => {
    const e = engine();
    e.addPresence('room', member('c1', 'ada'), 100);
    e.addPresence('room', member('c9', 'bob'), 10_000);
    vi.advanceTimersByTime(100);
    expect(e.presence('room')).toEqual([member('c9', 'bob')]);
    expect(e.addPresence('room', member('c2', 'ada'), 10_000)).toBe(true);
    e.addPresence('room', member('c3', 'bob'), 100);
    vi.advanceTimersByTime(100);
    expect(e.removePresence('room', 'c9', 'bob')).toBe(true);
  });

  it('answers an unknown channel with nobody and a removal from it with false', () => {
    const e = engine();
    expect(e.presence('nowhere')).toEqual([]);
    expect(e.removePresence('nowhere', 'c1', 'ada')).toBe(false);
    expect(e.sweepPresence('nowhere')).toEqual([]);
  });

  it('sweeps exactly the expired connections, naming users with none left, and keeps the rest', () => {
    const e = engine();
    e.addPresence('room', member('c1', 'ada'), 100);
    e.addPresence('room', member('c2', 'ada'), 10_000);
    e.addPresence('room', member('c3', 'bob'), 100);
    e.addPresence('room', member('c4', 'eve'), 101);
    vi.advanceTimersByTime(100);
    expect(e.sweepPresence('room')).toEqual(['bob']);
    expect(e.presence('room').map((m) => m.clientId).sort()).toEqual(['c2', 'c4']);
    vi.advanceTimersByTime(10_000);
    expect(e.sweepPresence('room').sort()).toEqual(['ada', 'eve']);
    expect(e.presence('room')).toEqual([]);
    expect(e.addPresence('room', member('c5', 'ada'), 100)).toBe(true);
  });
});

describe('MemoryEngine node messages', () => {
  it('delivers nothing after close, even a message sent just before it', async () => {
    vi.useRealTimers();
    const e = engine();
    const got: string[] = [];
    e.start({ node: 'n1', deliver: () => {}, reset: () => {}, message: (m) => got.push(m) });
    expect(e.send('n1', 'before close')).toBe(true);
    expect(e.send('n2', 'elsewhere')).toBe(false);
    e.close();
    expect(e.send(null, 'after close')).toBe(false);
    const again = new MemoryEngine();
    engines.push(again);
    const sentinel = new Promise<string>((resolve) => again.start({ node: 'n1', deliver: () => {}, reset: () => {}, message: resolve }));
    again.send(null, 'sentinel');
    expect(await sentinel).toBe('sentinel');
    expect(got).toEqual([]);
  });
});
