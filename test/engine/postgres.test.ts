import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engineConformance, type Publication } from 'livehub/engine';
import { PostgresEngine } from 'livehub/postgres';
import { testDatabase } from './postgres-db.js';

let db: Awaited<ReturnType<typeof testDatabase>>;
beforeAll(async () => { db = await testDatabase(); });
const afterAllEngines: PostgresEngine[] = [];
afterAll(async () => {
  for (const e of afterAllEngines) await e.close();
  await db?.drop();
});

// Each store is a schema of its own in this file's database: the nodes of one test share it.
engineConformance('PostgresEngine', { describe, it, afterEach }, {
  shared: true,
  acknowledgements: true,
  make: (store) => ({ engine: new PostgresEngine({ connectionString: db.url, schema: store, pollInterval: 200 }) }),
});

describe('PostgresEngine options', () => {
  it('throws a TypeError naming an unknown option and the closest valid one', () => {
    expect(() => new PostgresEngine({ connectionstring: 'x' } as never)).toThrow(new TypeError("livehub: unknown option 'connectionstring' for new PostgresEngine(); did you mean 'connectionString'?"));
  });

  it('refuses a schema name that would need quoting with a TypeError', () => {
    expect(() => new PostgresEngine({ schema: 'My-Schema' })).toThrow(TypeError);
  });
});

describe('PostgresEngine delivery', () => {
  it('delivers every publication of another node, in order, when no notification is ever sent', async () => {
    const schema = `quiet_${Math.random().toString(36).slice(2, 8)}`;
    const delivered: Publication[] = [];
    const make = () => new PostgresEngine({ connectionString: db.url, schema, pollInterval: 100 });
    const [a, b] = [make(), make()];
    afterAllEngines.push(a, b);
    await a.start({ node: 'a', message: () => {}, reset: () => {}, deliver: () => {} });
    await b.start({ node: 'b', message: () => {}, reset: () => {}, deliver: (p) => delivered.push(p) });
    // The publish function without its NOTIFY: nodes learn of messages only by reading them.
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    const { rows: [{ def }] } = await admin.query(`select pg_get_functiondef('${schema}.publish'::regproc) as def`);
    expect(def).toContain('pg_notify');
    await admin.query(String(def).replace(/perform pg_notify\([^;]*;/, ''));
    await admin.end();
    await b.subscribe('quiet');
    for (let i = 1; i <= 20; i++) await a.publish('quiet', 't', String(i), { size: 100, ttl: 60_000 });
    await expect.poll(() => delivered.length).toBe(20);
    expect(delivered.map((p) => [p.offset, p.data])).toEqual(Array.from({ length: 20 }, (_, i) => [i + 1, String(i + 1)]));
  });
});

describe('PostgresEngine pool', () => {
  it('never opens more than poolSize connections: a publish waiting for one past commandTimeout rejects unavailable, naming poolSize', async () => {
    const engine = new PostgresEngine({ connectionString: db.url, schema: 'pooled', poolSize: 1, commandTimeout: 300 });
    afterAllEngines.push(engine);
    await engine.start({ node: 'p', message: () => {}, reset: () => {}, deliver: () => {} });
    const held = await engine.pool.connect();
    const began = Date.now();
    const failure = await engine.publish('c', 't', '1', { size: 10, ttl: 1000 }).then(() => null, (e: unknown) => e);
    expect(Date.now() - began).toBeLessThan(1000);
    expect(failure).toMatchObject({ code: 'unavailable', message: expect.stringContaining("came free within 300 ms (all 1 of the pool's connections are busy); raise the engine's poolSize") });
    held.release();
    expect((await engine.publish('c', 't', '1', { size: 10, ttl: 1000 })).offset).toBe(1);
    expect(engine.pool.totalCount).toBe(1);
  });
});

describe('PostgresEngine ordering', () => {
  it('gives publishes to one channel from one node offsets in the order they were called, even when none is awaited', async () => {
    const engine = new PostgresEngine({ connectionString: db.url, schema: 'ordered', poolSize: 8 });
    afterAllEngines.push(engine);
    const delivered: Publication[] = [];
    await engine.start({ node: 'o', message: () => {}, reset: () => {}, deliver: (p) => delivered.push(p) });
    await engine.subscribe('line');
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => engine.publish('line', 't', String(i + 1), { size: 100, ttl: 60_000 })));
    expect(results.map((r) => r.offset)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    await expect.poll(() => delivered.length).toBe(60);
    expect(delivered.map((p) => Number(p.data))).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });

  it('hands node messages from one node to another in the order they were sent, even when none is awaited', async () => {
    const make = () => new PostgresEngine({ connectionString: db.url, schema: 'ordered_nodes', poolSize: 8 });
    const [a, b] = [make(), make()];
    afterAllEngines.push(a, b);
    const got: string[] = [];
    await a.start({ node: 'a', message: () => {}, reset: () => {}, deliver: () => {} });
    await b.start({ node: 'b', message: (m) => got.push(m), reset: () => {}, deliver: () => {} });
    await Promise.all(Array.from({ length: 60 }, (_, i) => a.send('b', String(i + 1))));
    await expect.poll(() => got.length).toBe(60);
    expect(got.map(Number)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });
});
