import type pg from 'pg';
import { MIGRATIONS, render, SCHEMA_NAME } from './postgres-sql.js';

/**
 * Applies the PostgreSQL engine's migrations (postgres-sql.ts) that a schema does not have yet, each
 * in its own transaction, under an advisory lock so nodes starting together apply each once.
 */
export async function migrate(pool: pg.Pool, schema: string, timeout = 60_000): Promise<number[]> {
  if (!SCHEMA_NAME.test(schema)) throw new TypeError(`livehub: schema '${schema}' must be a plain lower-case name`);
  const connection = await pool.connect();
  const ignore = () => {};   // a connection closed meanwhile fails its statement: not thrown again as an event
  connection.on('error', ignore);
  // Each statement gives up after `timeout` (a frozen database), and the connection is then dropped.
  const client = { query: (text: string, values?: unknown[]) => connection.query({ text, values, query_timeout: timeout } as pg.QueryConfig) };
  const applied: number[] = [];
  try {
    await client.query('select pg_advisory_lock(hashtextextended($1, 0))', [`livehub.migrate:${schema}`]);
    await client.query(`create schema if not exists ${schema}`);
    await client.query(`create table if not exists ${schema}.migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`);
    const { rows } = await client.query(`select version from ${schema}.migrations`) as { rows: Array<{ version: number }> };
    const done = new Set(rows.map((r) => r.version));
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      await client.query('begin');
      try {
        await client.query(render(migration.sql, schema));
        await client.query(`insert into ${schema}.migrations (version, name) values ($1, $2)`, [migration.version, migration.name]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => {});
        throw err;
      }
      applied.push(migration.version);
    }
    await client.query('select pg_advisory_unlock(hashtextextended($1, 0))', [`livehub.migrate:${schema}`]);
    connection.off('error', ignore);
    connection.release();
  } catch (err) {
    connection.off('error', ignore);
    connection.release(true);
    throw err;
  }
  return applied;
}
