import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEngine } from 'livehub/postgres';
import { testDatabase } from './postgres-db.js';

let db: Awaited<ReturnType<typeof testDatabase>>;
let pool: pg.Pool;
beforeAll(async () => {
  db = await testDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
  // pool.end() resolves while its connections are still closing: the forced drop of the database
  // after it may end one with an error, which is the drop's, not the test's.
  pool.on('error', () => {});
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});
const engines: PostgresEngine[] = [];
afterEach(async () => { for (const e of engines.splice(0)) await e.close(); });

async function engine(options: ConstructorParameters<typeof PostgresEngine>[0] = {}) {
  const e = new PostgresEngine({ connectionString: db.url, trimInterval: 60_000, ...options });
  engines.push(e);
  await e.start({ node: randomBytes(4).toString('hex'), message: () => {}, reset: () => {}, deliver: () => {} });
  return e;
}
const channel = () => `c${randomBytes(3).toString('hex')}`;
const stored = async (c: string) => (await pool.query<{ offset: string }>('select "offset" from livehub.messages where channel = $1 order by "offset"', [c])).rows.map((r) => Number(r.offset));

describe('PostgresEngine history retention', () => {
  it('trims messages past the channel\'s history size once they are older than catchUpWindow, keeping the window recoverable', async () => {
    const e = await engine({ catchUpWindow: 0 });
    const c = channel();
    for (let i = 1; i <= 30; i++) await e.publish(c, 't', String(i), { size: 10, ttl: 60_000 });
    expect(await stored(c)).toHaveLength(30);
    expect(await e.trim()).toBe(20);
    expect(await stored(c)).toEqual(Array.from({ length: 10 }, (_, i) => i + 21));
    const { position } = await e.history(c, null);
    expect((await e.history(c, { offset: 20, epoch: position.epoch })).publications.map((p) => p.data)).toEqual(Array.from({ length: 10 }, (_, i) => String(i + 21)));
    expect((await e.history(c, { offset: 19, epoch: position.epoch })).recovered).toBe(false);
  });

  it('trims messages past their ttl, and keeps those a lagging node may still read within catchUpWindow', async () => {
    const quick = await engine({ catchUpWindow: 0 });
    const c = channel();
    await quick.publish(c, 't', '1', { size: 10, ttl: 100 });
    await quick.publish(c, 't', '2', { size: 10, ttl: 60_000 });
    await expect.poll(async () => (await quick.history(c, { offset: 0, epoch: (await quick.history(c, null)).position.epoch })).recovered).toBe(false);
    await quick.trim();
    expect(await stored(c)).toEqual([2]);
    const patient = await engine({ catchUpWindow: 60_000 });
    const d = channel();
    await patient.publish(d, 't', '1', { size: 0, ttl: 60_000 });
    expect(await patient.trim()).toBe(0);
    expect(await stored(d)).toEqual([1]);
  });

  it('never holds up a publish: one on the same channel completes while a trim\'s deletes are still uncommitted', async () => {
    const e = await engine({ catchUpWindow: 0, commandTimeout: 2000 });
    const c = channel();
    for (let i = 1; i <= 20; i++) await e.publish(c, 't', String(i), { size: 5, ttl: 60_000 });
    const trimmer = await pool.connect();
    try {
      await trimmer.query('begin');
      // Other tests' channels are trimmed too: at least this channel's 15.
      expect((await trimmer.query('select livehub.trim(1000, 0) as deleted')).rows[0].deleted).toBeGreaterThanOrEqual(15);
      const began = Date.now();
      expect((await e.publish(c, 't', '21', { size: 5, ttl: 60_000 })).offset).toBe(21);
      expect(Date.now() - began).toBeLessThan(1000);
      await trimmer.query('commit');
    } finally {
      trimmer.release();
    }
    expect(await stored(c)).toEqual([16, 17, 18, 19, 20, 21]);
  });
});
