import { randomBytes } from 'node:crypto';
import { getTableColumns, getTableName } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { getTableConfig } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Publication } from 'livehub/engine';
import { PostgresEngine, publishInTransaction } from 'livehub/postgres';
import { channels, livehubTables, messages, presenceRecords, publishWithDrizzle } from 'livehub/schema';
import { testDatabase } from './postgres-db.js';

let db: Awaited<ReturnType<typeof testDatabase>>;
let pool: pg.Pool;
let engine: PostgresEngine;
const delivered: Publication[] = [];
beforeAll(async () => {
  db = await testDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  // pool.end() resolves while its connections are still closing: the forced drop of the database
  // after it may end one with an error, which is the drop's, not the test's.
  pool.on('error', () => {});
  // The default schema, `livehub`, migrated by the engine at start.
  engine = new PostgresEngine({ connectionString: db.url, pollInterval: 100 });
  await engine.start({ node: 'n1', message: () => {}, reset: () => {}, deliver: (p) => delivered.push(p) });
});
afterAll(async () => {
  await engine?.close();
  await pool?.end();
  await db?.drop();
});
afterEach(() => { delivered.length = 0; });

const channel = () => `c${randomBytes(3).toString('hex')}`;
const of = (c: string) => delivered.filter((p) => p.channel === c).map((p) => [p.offset, p.type, JSON.parse(p.data)]);

/** Publishes a sentinel on its own channel and waits for it: what was due before it has been delivered. */
async function settled(): Promise<void> {
  const c = channel();
  await engine.subscribe(c);
  await engine.publish(c, 'sentinel', '1', { size: 1, ttl: 1000 });
  await expect.poll(() => delivered.some((p) => p.channel === c)).toBe(true);
}

describe('publishInTransaction (pg)', () => {
  it('delivers a message published in a transaction only once it commits, and one rolled back never', async () => {
    const c = channel();
    await engine.subscribe(c);
    const client = await pool.connect();
    try {
      await client.query('begin');
      const position = await publishInTransaction(client, c, 'created', { id: 1 });
      await settled();
      expect(of(c)).toEqual([]);
      await client.query('commit');
      await expect.poll(() => of(c)).toEqual([[1, 'created', { id: 1 }]]);
      expect(position.offset).toBe(1);

      await client.query('begin');
      await publishInTransaction(client, c, 'created', { id: 2 });
      await client.query('rollback');
      await client.query('begin');
      await publishInTransaction(client, c, 'created', { id: 3 });
      await client.query('commit');
    } finally {
      client.release();
    }
    await expect.poll(() => of(c)).toEqual([[1, 'created', { id: 1 }], [2, 'created', { id: 3 }]]);
    const { position } = await engine.history(c, null);
    expect((await engine.history(c, { offset: 0, epoch: position.epoch })).publications.map((p) => JSON.parse(p.data))).toEqual([{ id: 1 }, { id: 3 }]);
  });

  it('delivers messages of concurrent transactions in offset order, after their commits', async () => {
    const c = channel();
    await engine.subscribe(c);
    await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const client = await pool.connect();
      try {
        await client.query('begin');
        await publishInTransaction(client, c, 'n', i);
        await client.query('commit');
      } finally {
        client.release();
      }
    }));
    await expect.poll(() => of(c).length).toBe(8);
    expect(of(c).map(([offset]) => offset)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('refuses a bad channel, type, data or option with a TypeError before touching the transaction', async () => {
    const client = { query: async () => { throw new Error('must not be called'); } };
    await expect(publishInTransaction(client as never, 'bad channel', 't', 1)).rejects.toThrow(TypeError);
    await expect(publishInTransaction(client as never, 'c', 'bad type', 1)).rejects.toThrow(TypeError);
    await expect(publishInTransaction(client as never, 'c', 't', 1n)).rejects.toThrow(TypeError);
    await expect(publishInTransaction(client as never, 'c', 't', 1, { idempotencyKy: 'k' } as never)).rejects.toThrow("did you mean 'idempotencyKey'?");
  });
});

describe('publishWithDrizzle', () => {
  it('publishes inside a Drizzle transaction: delivered if it commits, never if it rolls back', async () => {
    const orm = drizzle({ client: pool });
    const c = channel();
    await engine.subscribe(c);
    await expect(orm.transaction(async (tx) => {
      await publishWithDrizzle(tx, c, 'created', { id: 'rolled back' });
      throw new Error('the app gives up');
    })).rejects.toThrow('the app gives up');
    const position = await orm.transaction(async (tx) => publishWithDrizzle(tx, c, 'created', { id: 'kept' }, { tags: { kind: 'order' } }));
    expect(position.offset).toBe(1);
    await expect.poll(() => of(c)).toEqual([[1, 'created', { id: 'kept' }]]);
    expect(delivered.find((p) => p.channel === c)?.tags).toEqual({ kind: 'order' });
    const rows = await orm.select().from(messages);
    expect(rows.filter((r) => r.channel === c).map((r) => [r.offset, r.type, r.data])).toEqual([[1, 'created', '{"id":"kept"}']]);
  });
});

describe('the SQL function publish', () => {
  it('publishes from a trigger: a row inserted by any client reaches subscribers after its commit', async () => {
    await pool.query('create table orders (id serial primary key, item text not null)');
    await pool.query(`create function orders_created() returns trigger language plpgsql as $$
      begin perform livehub.publish('orders', 'created', row_to_json(new)::text); return new; end $$`);
    await pool.query('create trigger orders_created after insert on orders for each row execute function orders_created()');
    await engine.subscribe('orders');
    await pool.query("insert into orders (item) values ('tea'), ('cake')");
    await expect.poll(() => of('orders')).toEqual([[1, 'created', { id: 1, item: 'tea' }], [2, 'created', { id: 2, item: 'cake' }]]);
  });
});

describe('livehub/schema', () => {
  it('describes exactly the tables and columns the engine\'s migrations create', async () => {
    const tables = livehubTables('livehub');
    const { rows } = await pool.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
      "select table_name, column_name, data_type, is_nullable from information_schema.columns where table_schema = 'livehub' order by table_name, column_name");
    const inDatabase = rows.map((r) => `${r.table_name}.${r.column_name} ${r.data_type} ${r.is_nullable === 'NO' ? 'not null' : 'null'}`);
    const inDrizzle = Object.values(tables).filter((t) => t !== tables.schema).flatMap((table) => {
      const config = getTableConfig(table as typeof channels);
      const keyed = new Set(config.primaryKeys.flatMap((k) => k.columns.map((c) => c.name)));
      return Object.values(getTableColumns(table as typeof channels)).map((c) =>
        `${getTableName(table as typeof channels)}.${c.name} ${c.getSQLType().replace('bigserial', 'bigint')} ${c.notNull || keyed.has(c.name) ? 'not null' : 'null'}`);
    }).sort();
    expect(inDrizzle).toEqual([...inDatabase].sort());
    expect([getTableName(channels), getTableName(messages), getTableName(presenceRecords)]).toEqual(['channels', 'messages', 'presence']);
  });
});
