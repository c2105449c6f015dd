import { describe, expect, it } from 'vitest';
import { MeasuredHistory } from '../../examples/chat/measured-history.js';
import { MemoryEngine } from '../../pkg/engine/index.js';
import type { PublishResult } from '../../pkg/engine/engine.js';

/** The example chat's history, sized from the channel's measured rate (examples/chat/measured-history.ts). */

const WINDOW = 10_000;
const POLICY = { size: 1, ttl: 3_600_000 };

function measured(options: { floor?: number; cap?: number } = {}) {
  let now = 1_000_000;
  const capped: Array<[string, number, number]> = [];
  const engine = new MeasuredHistory(new MemoryEngine(), {
    match: (channel) => channel === 'chat',
    window: WINDOW,
    floor: options.floor ?? 5,
    cap: options.cap ?? 10_000,
    onCapped: (...args) => capped.push(args),
    clock: () => now,
  });
  const publish = (channel = 'chat') => engine.publish(channel, 'message', '{}', POLICY) as PublishResult;
  /** Whether a page that last saw `offset` gets everything after it from history. */
  const recovers = async (offset: number) => {
    const { position } = await engine.history('chat', null);
    return (await engine.history('chat', { offset, epoch: position.epoch })).recovered;
  };
  return { engine, publish, recovers, capped, advance: (ms: number) => { now += ms; } };
}

describe('the example chat\'s measured history', () => {
  it('keeps up to its cap until it has watched the channel for a whole window, since other nodes may have published before', () => {
    const { engine, publish, advance } = measured({ cap: 500 });
    expect(engine.sizeOf('chat')).toBe(500);
    for (let i = 0; i < 5; i++) { publish(); advance(1000); }
    expect(engine.sizeOf('chat')).toBe(500);
  });

  it('keeps every message of the last window at the measured rate, and no fewer than its floor', async () => {
    const { engine, publish, recovers, advance } = measured({ floor: 5 });
    // One a second for 30 s: a window holds 11 of them (both ends included), and the next one comes.
    let last = 0;
    for (let i = 0; i < 30; i++) { last = publish().offset; advance(1000); }
    expect(engine.sizeOf('chat')).toBe(12);
    last = publish().offset;
    // A page that left a window ago has all it missed; one that left earlier gets a gap.
    expect(await recovers(last - 10)).toBe(true);
    expect(await recovers(last - 13)).toBe(false);
    // Quiet: a window later, back to the floor.
    advance(WINDOW * 2);
    publish();
    advance(1000);
    publish();
    expect(engine.sizeOf('chat')).toBe(5);
  });

  it('follows a burst at once: a page away during it recovers every message', async () => {
    const { engine, publish, recovers, advance } = measured({ floor: 5 });
    for (let i = 0; i < 30; i++) { publish(); advance(1000); }
    const before = publish().offset;
    for (let i = 0; i < 2000; i++) publish();
    expect(engine.sizeOf('chat')).toBeGreaterThan(2000);
    expect(await recovers(before)).toBe(true);
  });

  it('stops at its cap and says so, once a minute, with how many messages the window needs', async () => {
    const { engine, publish, capped, advance } = measured({ cap: 50 });
    for (let i = 0; i < 30; i++) { publish(); advance(1000); }
    for (let i = 0; i < 100; i++) publish();
    expect(engine.sizeOf('chat')).toBe(50);
    expect(capped).toHaveLength(1);
    expect(capped[0]![0]).toBe('chat');
    expect(capped[0]![1]).toBeGreaterThan(50);
    expect(capped[0]![2]).toBe(50);
    advance(60_000);
    publish();
    expect(capped).toHaveLength(2);
    expect(capped[1]![1]).toBeGreaterThan(100);
  });

  it('leaves channels it does not match to the hub\'s policy', async () => {
    const { engine } = measured();
    for (let i = 0; i < 3; i++) engine.publish('other', 'x', '{}', POLICY);
    const { position } = await engine.history('other', null);
    expect((await engine.history('other', { offset: position.offset - 1, epoch: position.epoch })).recovered).toBe(true);
    expect((await engine.history('other', { offset: position.offset - 2, epoch: position.epoch })).recovered).toBe(false);
  });

  it('throws a TypeError for a floor above its cap', () => {
    expect(() => new MeasuredHistory(new MemoryEngine(), { match: () => true, window: 1000, floor: 10, cap: 5 })).toThrow(TypeError);
  });
});
