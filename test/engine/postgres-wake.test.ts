import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineHandlers, Publication } from 'livehub/engine';
import { PostgresEngine } from 'livehub/postgres';
import { testDatabase } from './postgres-db.js';

// Nodes are woken by a notification at the publish's commit: the engine's own publishes, and
// `<schema>.publish` called in the app's own transaction (at that transaction's commit, not before).
let db: Awaited<ReturnType<typeof testDatabase>>;
beforeAll(async () => { db = await testDatabase(); });
const engines: PostgresEngine[] = [];
const clients: pg.Client[] = [];
afterAll(async () => {
  for (const e of engines) await e.close();
  for (const c of clients) await c.end().catch(() => {});
  await db?.drop();
});

const keep = { size: 100, ttl: 60_000 };
/** A node whose periodic look is an hour away: only a wake-up delivers at once. */
async function node(schema: string, name: string) {
  const engine = new PostgresEngine({ connectionString: db.url, schema, pollInterval: 3_600_000 });
  engines.push(engine);
  const delivered: Publication[] = [];
  const handlers: EngineHandlers = { node: name, message: () => {}, reset: () => {}, deliver: (p) => delivered.push(p), log: () => {} };
  await engine.start(handlers);
  return { engine, delivered };
}

/** A plain connection listening to the schema's wake-ups; `heard` holds their payloads in order. */
async function listen(schema: string) {
  const client = new pg.Client({ connectionString: db.url });
  clients.push(client);
  await client.connect();
  const heard: string[] = [];
  client.on('notification', (n) => { if (n.channel === schema) heard.push(n.payload ?? ''); });
  await client.query(`listen ${schema}`);
  return heard;
}

describe('PostgresEngine wake-ups', () => {
  it('delivers on another node at once after a publish commits, its periodic look an hour away', async () => {
    const a = await node('wakeup', 'a');
    const b = await node('wakeup', 'b');
    await b.engine.subscribe('room');
    for (let n = 1; n <= 3; n++) await a.engine.publish('room', 't', String(n), keep);
    await expect.poll(() => b.delivered.map((p) => [p.offset, p.data]), { timeout: 10_000 }).toEqual([[1, '1'], [2, '2'], [3, '3']]);
  });

  it("wakes listeners once the engine's publish committed, naming its channel", async () => {
    const { engine } = await node('named', 'a');
    const heard = await listen('named');
    await engine.publish('orders', 't', '1', keep);
    await expect.poll(() => heard, { timeout: 10_000 }).toContain('orders');
    expect((await engine.history('orders', null)).position.offset).toBe(1);
  });

  it("notifies a publish made with <schema>.publish in the app's transaction at its commit, not before", async () => {
    const { engine } = await node('intx', 'a');
    const heard = await listen('intx');
    const app = new pg.Client({ connectionString: db.url });
    clients.push(app);
    await app.connect();
    await app.query('begin');
    await app.query(`select * from intx.publish('invoices', 'created', '{"id": 1}')`);
    // A sentinel sent after the uncommitted publish arrives alone: the publish notified nothing yet.
    await engine.pool.query(`select pg_notify('intx', 'sentinel')`);
    await expect.poll(() => heard, { timeout: 10_000 }).toEqual(['sentinel']);
    await app.query('commit');
    await expect.poll(() => heard, { timeout: 10_000 }).toEqual(['sentinel', 'invoices']);
  });
});
