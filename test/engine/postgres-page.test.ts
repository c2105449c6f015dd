import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEngine } from 'livehub/postgres';
import { testDatabase } from './postgres-db.js';

const STORED = 1_000_000;
let db: Awaited<ReturnType<typeof testDatabase>>;
let engine: PostgresEngine;
let epoch = '';
beforeAll(async () => {
  db = await testDatabase();
  engine = new PostgresEngine({ connectionString: db.url, trimInterval: 600_000 });
  await engine.start({ node: 'n', message: () => {}, reset: () => {}, deliver: () => {} });
  ({ epoch } = (await engine.history('archive', null)).position);
  // A million stored messages, written in one statement as the publish function would leave them.
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query(`insert into livehub.messages (channel, "offset", epoch, type, data, expires_at)
    select 'archive', g, $1, 'said', g::text, now() + interval '1 day' from generate_series(1, ${STORED}) g`, [epoch]);
  await client.query(`update livehub.channels set "offset" = ${STORED}, history_size = ${STORED}, history_ttl_ms = 86400000 where name = 'archive'`);
  await client.query('analyze livehub.messages');
  await client.end();
}, 60_000);
afterAll(async () => {
  await engine?.close();
  await db?.drop();
});

const offsets = (page: { publications: Array<{ offset: number }> }) => page.publications.map((p) => p.offset);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('PostgresEngine.page', () => {
  it('pages through a million stored messages by offset in both directions, each page one quick read', async () => {
    const latest = await engine.page('archive', { limit: 3 });
    expect(latest.position).toEqual({ offset: STORED, epoch });
    expect(offsets(latest)).toEqual(range(STORED - 2, STORED));
    expect(offsets(await engine.page('archive', { after: 0, limit: 3 }))).toEqual([1, 2, 3]);
    expect(offsets(await engine.page('archive', { after: 500_000, limit: 2 }))).toEqual([500_001, 500_002]);
    expect(offsets(await engine.page('archive', { before: 500_000, limit: 2 }))).toEqual([499_998, 499_999]);
    expect(offsets(await engine.page('archive', { after: 10, before: 14 }))).toEqual([11, 12, 13]);
    // Forwards from the start and backwards from the end, 20 pages each, with no gap and no overlap.
    let cursor = 0;
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const began = performance.now();
      const page = await engine.page('archive', { after: cursor, limit: 1000 });
      times.push(performance.now() - began);
      expect(offsets(page)).toEqual(range(cursor + 1, cursor + 1000));
      cursor += 1000;
    }
    cursor = STORED + 1;
    for (let i = 0; i < 20; i++) {
      const began = performance.now();
      const page = await engine.page('archive', { before: cursor, limit: 1000 });
      times.push(performance.now() - began);
      expect(offsets(page)).toEqual(range(cursor - 1000, cursor - 1));
      expect(page.publications[0]!.data).toBe(String(cursor - 1000));
      cursor -= 1000;
    }
    times.sort((a, b) => a - b);
    expect(times[Math.floor(times.length / 2)]).toBeLessThan(100);
  }, 60_000);

  it('reads only what the channel\'s history still holds', async () => {
    await engine.publish('short', 't', '1', { size: 2, ttl: 60_000 });
    await engine.publish('short', 't', '2', { size: 2, ttl: 60_000 });
    await engine.publish('short', 't', '3', { size: 2, ttl: 60_000 });
    expect(offsets(await engine.page('short', { after: 0 }))).toEqual([2, 3]);
    expect(offsets(await engine.page('short', {}))).toEqual([2, 3]);
  });

  it('refuses a bad offset, limit or option with a TypeError', async () => {
    await expect(engine.page('archive', { after: -1 })).rejects.toThrow(TypeError);
    await expect(engine.page('archive', { limit: 5000 })).rejects.toThrow('limit must be a whole number from 1 to 1000');
    await expect(engine.page('archive', { befor: 3 } as never)).rejects.toThrow("unknown option 'befor' for engine.page(); did you mean 'before'?");
  });
});
