import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../pkg/engine/engine.js';
import { PostgresEngine } from '../../pkg/engine/postgres.js';
import { RedisEngine } from '../../pkg/engine/redis.js';
import { testDatabase } from '../engine/postgres-db.js';
import { Peer, perTest } from '../helpers.js';
import { sharedRedisUrl } from '../redis.js';

const { cleanup, start } = perTest();
let db: Awaited<ReturnType<typeof testDatabase>>;
beforeAll(async () => { db = await testDatabase(); });
afterAll(async () => { await db?.drop(); });

/** Two engines of one cluster: the same Redis prefix, or the same PostgreSQL schema. */
const clusters: Record<string, () => Promise<() => Engine>> = {
  Redis: async () => {
    const url = await sharedRedisUrl();
    const prefix = `patterns-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    return () => new RedisEngine({ url, prefix });
  },
  PostgreSQL: async () => {
    const schema = `p${Math.random().toString(36).slice(2, 10)}`;
    return () => new PostgresEngine({ connectionString: db.url, schema, pollInterval: 200 });
  },
};

describe.each(Object.keys(clusters))('pattern subscriptions across nodes on %s', (name) => {
  it('a page on one node gets, once each and in order, what is published on another node to every channel its pattern matches', async () => {
    const engine = await clusters[name]!();
    const a = await start({ logger: false, engine: engine() });
    const b = await start({ logger: false, engine: engine() });
    const page = await Peer.open(a.url);
    cleanup(() => page.close());
    await page.subscribe('done');
    page.send({ type: 'subscribe', pattern: 'sensors/+/temp', id: 1 });
    await page.next((m) => m.id === 1);
    for (let i = 1; i <= 5; i++) {
      await b.hub.publish('sensors/kitchen/temp', 'reading', i);
      await b.hub.publish('sensors/kitchen/light', 'reading', -i);
      await b.hub.publish(`sensors/room-${i}/temp`, 'reading', 10 * i);
    }
    await b.hub.publish('done', 'done', null);
    await page.next((m) => m.type === 'done', 10_000);
    // The sentinel is on another channel: what the pattern matched may come after it, so wait for all of it.
    await expect.poll(() => page.messages.filter((m) => m.type === 'reading').length, { timeout: 10_000 }).toBe(10);
    const got = page.messages.filter((m) => m.type === 'reading');
    expect(got.filter((m) => m.channel === 'sensors/kitchen/temp').map((m) => m.data)).toEqual([1, 2, 3, 4, 5]);
    expect(got.filter((m) => m.channel !== 'sensors/kitchen/temp').map((m) => m.channel).sort()).toEqual([1, 2, 3, 4, 5].map((i) => `sensors/room-${i}/temp`));
  });
});
