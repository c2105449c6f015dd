import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine, Publication } from '../../pkg/engine/engine.js';

/**
 * The guarantees every engine gives (see pkg/engine/engine.ts), as one suite run against each
 * engine: `describeEngine('MemoryEngine', () => ({ engine: new MemoryEngine() }))`.
 */

export interface EngineUnderTest {
  engine: Engine;
  /** Releases what the engine left behind (Redis keys); the engine itself is closed by the suite. */
  cleanup?: () => unknown;
}

const keep = { size: 5, ttl: 60_000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function describeEngine(name: string, make: () => EngineUnderTest | Promise<EngineUnderTest>): void {
  describe(`${name} (engine conformance)`, () => {
    const cleanups: Array<() => unknown> = [];
    afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

    /** A started engine, with what it delivered and reset. */
    async function engine() {
      const made = await make();
      const delivered: Publication[] = [];
      const resets: string[] = [];
      cleanups.push(() => made.engine.close());
      if (made.cleanup) cleanups.push(made.cleanup);
      await made.engine.start({ deliver: (p) => delivered.push(p), reset: (channel) => resets.push(channel) });
      const e = made.engine;
      const channel = `c${randomBytes(3).toString('hex')}`;
      return { e, delivered, resets, channel, of: (c: string) => delivered.filter((p) => p.channel === c) };
    }

    it('gives each channel offsets that increase by one, and delivers them in order with the offset in the JSON', async () => {
      const { e, channel, of } = await engine();
      const other = `${channel}-other`;
      await e.subscribe(channel);
      await e.subscribe(other);
      expect(await e.publish(channel, 't', '1', keep)).toMatchObject({ offset: 1 });
      expect(await e.publish(channel, 't', '{"n":2}', keep)).toMatchObject({ offset: 2 });
      expect(await e.publish(other, 't', '"x"', keep)).toMatchObject({ offset: 1 });
      await expect.poll(() => of(channel).length).toBe(2);
      await expect.poll(() => of(other).length).toBe(1);
      expect(of(channel).map((p) => p.offset)).toEqual([1, 2]);
      expect(JSON.parse(of(channel)[1]!.payload)).toEqual({ channel, type: 't', data: { n: 2 }, offset: 2 });
      expect(JSON.parse(of(other)[0]!.payload)).toEqual({ channel: other, type: 't', data: 'x', offset: 1 });
    });

    it('keeps one epoch for a channel across publishes and reads, starting at offset 0', async () => {
      const { e, channel } = await engine();
      const before = await e.history(channel, null);
      expect(before).toMatchObject({ position: { offset: 0 }, publications: [], recovered: false });
      expect(before.position.epoch).toEqual(expect.any(String));
      const first = await e.publish(channel, 't', '1', keep);
      const second = await e.publish(channel, 't', '2', keep);
      expect(first.epoch).toBe(before.position.epoch);
      expect(second.epoch).toBe(before.position.epoch);
      expect((await e.history(channel, null)).position).toEqual({ offset: 2, epoch: before.position.epoch });
    });

    it('replays exactly the publications after a position in the window, oldest first', async () => {
      const { e, channel } = await engine();
      for (let i = 1; i <= 4; i++) await e.publish(channel, 't', String(i), keep);
      const { epoch } = (await e.history(channel, null)).position;
      const result = await e.history(channel, { offset: 1, epoch });
      expect(result.recovered).toBe(true);
      expect(result.publications.map((p) => [p.offset, JSON.parse(p.payload).data])).toEqual([[2, 2], [3, 3], [4, 4]]);
      expect(result.position).toEqual({ offset: 4, epoch });
      expect(await e.history(channel, { offset: 4, epoch })).toMatchObject({ recovered: true, publications: [] });
    });

    it('never replays a partial range: a position older than the window is not recovered', async () => {
      const { e, channel } = await engine();
      for (let i = 1; i <= 9; i++) await e.publish(channel, 't', String(i), keep); // keeps 5..9
      const { epoch } = (await e.history(channel, null)).position;
      expect((await e.history(channel, { offset: 4, epoch })).publications.map((p) => p.offset)).toEqual([5, 6, 7, 8, 9]);
      expect(await e.history(channel, { offset: 3, epoch })).toMatchObject({ recovered: false, publications: [] });
    });

    it('does not recover a position from another epoch, or from the future', async () => {
      const { e, channel } = await engine();
      await e.publish(channel, 't', '1', keep);
      const { epoch } = (await e.history(channel, null)).position;
      expect(await e.history(channel, { offset: 0, epoch: 'other' })).toMatchObject({ recovered: false, publications: [], position: { offset: 1, epoch } });
      expect(await e.history(channel, { offset: 9, epoch })).toMatchObject({ recovered: false, publications: [] });
    });

    it('keeps positions but no history with size 0', async () => {
      const { e, channel } = await engine();
      await e.publish(channel, 't', '1', { size: 0, ttl: 1000 });
      await e.publish(channel, 't', '2', { size: 0, ttl: 1000 });
      const { position } = await e.history(channel, null);
      expect(position.offset).toBe(2);
      expect((await e.history(channel, { offset: 1, epoch: position.epoch })).recovered).toBe(false);
      expect((await e.history(channel, { offset: 2, epoch: position.epoch })).recovered).toBe(true);
    });

    it('drops publications older than the history ttl, and then does not recover across them', async () => {
      const { e, channel } = await engine();
      await e.publish(channel, 't', '1', { size: 10, ttl: 200 });
      await sleep(400);
      await e.publish(channel, 't', '2', { size: 10, ttl: 200 });
      const { epoch } = (await e.history(channel, null)).position;
      expect(await e.history(channel, { offset: 0, epoch })).toMatchObject({ recovered: false, publications: [] });
      expect((await e.history(channel, { offset: 1, epoch })).publications.map((p) => p.offset)).toEqual([2]);
    });

    it('publishes once per idempotency key: a repeat publishes nothing and answers the first position', async () => {
      const { e, channel, of } = await engine();
      await e.subscribe(channel);
      const once = { idempotencyKey: `k-${channel}`, idempotencyTtl: 60_000 };
      const first = await e.publish(channel, 't', '1', keep, once);
      expect(first).toMatchObject({ offset: 1 });
      expect(first.duplicate).toBeFalsy();
      await e.publish(channel, 't', '2', keep);
      const again = await e.publish(channel, 't', '1', keep, once);
      expect(again).toEqual({ offset: 1, epoch: first.epoch, duplicate: true });
      const other = await e.publish(channel, 't', '3', keep, { idempotencyKey: `k2-${channel}`, idempotencyTtl: 60_000 });
      expect(other).toMatchObject({ offset: 3 });
      await expect.poll(() => of(channel).length).toBe(3);
      await sleep(100);
      expect(of(channel).map((p) => JSON.parse(p.payload).data)).toEqual([1, 2, 3]);
      const { publications } = await e.history(channel, { offset: 0, epoch: first.epoch });
      expect(publications.map((p) => p.offset)).toEqual([1, 2, 3]);
    });

    it('forgets an idempotency key after its ttl: the same key then publishes again', async () => {
      const { e, channel } = await engine();
      const once = { idempotencyKey: `k-${channel}`, idempotencyTtl: 150 };
      expect(await e.publish(channel, 't', '1', keep, once)).toMatchObject({ offset: 1 });
      expect(await e.publish(channel, 't', '1', keep, once)).toMatchObject({ offset: 1, duplicate: true });
      await sleep(300);
      const later = await e.publish(channel, 't', '1', keep, once);
      expect(later).toMatchObject({ offset: 2 });
      expect(later.duplicate).toBeFalsy();
    });

    it('refuses an idempotency key without a ttl, publishing nothing', async () => {
      const { e, channel } = await engine();
      await expect(async () => e.publish(channel, 't', '1', keep, { idempotencyKey: 'k' })).rejects.toThrow(TypeError);
      expect((await e.history(channel, null)).position.offset).toBe(0);
    });

    it('stamps the publisher into the publication as from, live and in history', async () => {
      const { e, channel, of } = await engine();
      await e.subscribe(channel);
      await e.publish(channel, 't', '1', keep, { from: { user: 'ann "a"', client: 'c1' } });
      await e.publish(channel, 't', '2', keep, { from: { client: 'c2' } });
      await e.publish(channel, 't', '3', keep);
      await expect.poll(() => of(channel).length).toBe(3);
      const live = of(channel).map((p) => JSON.parse(p.payload));
      expect(live.map((m) => m.from)).toEqual([{ user: 'ann "a"', client: 'c1' }, { client: 'c2' }, undefined]);
      expect(live[0]).toEqual({ channel, type: 't', data: 1, offset: 1, from: { user: 'ann "a"', client: 'c1' } });
      const { epoch } = (await e.history(channel, null)).position;
      const stored = (await e.history(channel, { offset: 0, epoch })).publications.map((p) => JSON.parse(p.payload).from);
      expect(stored).toEqual([{ user: 'ann "a"', client: 'c1' }, { client: 'c2' }, undefined]);
    });

    it('tracks presence: a user joins with their first connection and leaves with their last', async () => {
      const { e, channel } = await engine();
      const entry = (clientId: string, userId: string, status: 'online' | 'away' = 'online') => ({ clientId, userId, status, info: { name: userId } });
      expect(await e.addPresence(channel, entry('c1', 'ann'), 10_000)).toBe(true);
      expect(await e.addPresence(channel, entry('c2', 'ann'), 10_000)).toBe(false); // ann's second connection
      expect(await e.addPresence(channel, entry('c1', 'ann', 'away'), 10_000)).toBe(false); // a refresh
      expect(await e.addPresence(channel, entry('c3', 'bob'), 10_000)).toBe(true);
      const members = (await e.presence(channel)).sort((a, b) => a.clientId.localeCompare(b.clientId));
      expect(members).toEqual([entry('c1', 'ann', 'away'), entry('c2', 'ann'), entry('c3', 'bob')]);
      expect(await e.removePresence(channel, 'c1', 'ann')).toBe(false);
      expect(await e.removePresence(channel, 'c2', 'ann')).toBe(true);
      expect(await e.removePresence(channel, 'c2', 'ann')).toBe(false); // already gone
      expect((await e.presence(channel)).map((m) => m.userId)).toEqual(['bob']);
    });

    it('sweeps expired connections once, returning the users left with none', async () => {
      const { e, channel } = await engine();
      await e.addPresence(channel, { clientId: 'c1', userId: 'ann', status: 'online' }, 100);
      await e.addPresence(channel, { clientId: 'c2', userId: 'bob', status: 'online' }, 100);
      await e.addPresence(channel, { clientId: 'c3', userId: 'bob', status: 'online' }, 60_000);
      await sleep(250);
      expect((await e.presence(channel)).map((m) => m.clientId)).toEqual(['c3']);
      expect(await e.sweepPresence(channel)).toEqual(['ann']);
      expect(await e.sweepPresence(channel)).toEqual([]);
      expect(await e.addPresence(channel, { clientId: 'c4', userId: 'ann', status: 'online' }, 60_000)).toBe(true);
    });
  });
}
