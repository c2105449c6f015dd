#!/usr/bin/env node
/**
 * livehub-postgres: the PostgreSQL engine's migrations from the command line.
 *
 *   livehub-postgres migrate [--schema NAME]   applies the migrations the database lacks (DATABASE_URL)
 *   livehub-postgres sql [--schema NAME]       prints every migration's SQL, for the app's own migration tool
 *
 * Exits 0 when done, 1 when the database failed it (naming the host and the cause), 2 on bad usage.
 */
import pg from 'pg';
import { migrate } from './postgres-migrate.js';
import { MIGRATIONS, render, SCHEMA_NAME } from './postgres-sql.js';

const USAGE = 'usage: livehub-postgres migrate|sql [--schema NAME]   (the database: DATABASE_URL)';

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  let schema = 'livehub';
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--schema' && rest[i + 1] !== undefined) schema = rest[++i]!;
    else { process.stderr.write(`livehub-postgres: unknown argument '${rest[i]}'\n${USAGE}\n`); return 2; }
  }
  if (!SCHEMA_NAME.test(schema)) {
    process.stderr.write(`livehub-postgres: schema '${schema}' must be a plain lower-case name (letters, digits, _; at most 48)\n`);
    return 2;
  }
  if (command === 'sql') {
    for (const m of MIGRATIONS) process.stdout.write(`-- livehub migration ${m.version}: ${m.name}\n${render(m.sql, schema).trim()}\n\n`);
    return 0;
  }
  if (command !== 'migrate') {
    process.stderr.write(`livehub-postgres: ${command === undefined ? 'no command' : `unknown command '${command}'`}\n${USAGE}\n`);
    return 2;
  }
  const connectionString = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const pool = new pg.Pool({ connectionString, max: 1, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => {});
  try {
    const applied = await migrate(pool, schema);
    process.stdout.write(applied.length ? `livehub-postgres: applied migrations ${applied.join(', ')} to schema '${schema}'\n` : `livehub-postgres: schema '${schema}' is up to date\n`);
    return 0;
  } catch (err) {
    const url = new URL(connectionString.replace(/^postgres(ql)?:/, 'http:'));
    process.stderr.write(`livehub-postgres: migrating schema '${schema}' at ${url.hostname || '127.0.0.1'}:${url.port || 5432} failed: ${err instanceof Error ? err.message : String(err)}; check DATABASE_URL\n`);
    return 1;
  } finally {
    await pool.end().catch(() => {});
  }
}

process.exitCode = await main(process.argv.slice(2));
