import { execFile } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../redis.js';
import { testDatabase } from './postgres-db.js';

let db: Awaited<ReturnType<typeof testDatabase>>;
beforeAll(async () => { db = await testDatabase(); });
afterAll(async () => { await db?.drop(); });

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'pkg/engine/postgres-cli.ts', ...args], { env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

describe('livehub-postgres', () => {
  it('applies the migrations a database lacks, then says it is up to date', async () => {
    const first = await cli(['migrate', '--schema', 'app_live'], { DATABASE_URL: db.url });
    expect(first).toMatchObject({ code: 0, stdout: "livehub-postgres: applied migrations 1, 2, 3 to schema 'app_live'\n" });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query("select table_name from information_schema.tables where table_schema = 'app_live' order by 1");
    await client.end();
    expect(rows.map((r) => r.table_name)).toEqual(['acknowledgements', 'channels', 'idempotency', 'messages', 'migrations', 'node_messages', 'nodes', 'presence', 'records']);
    expect(await cli(['migrate', '--schema', 'app_live'], { DATABASE_URL: db.url })).toMatchObject({ code: 0, stdout: "livehub-postgres: schema 'app_live' is up to date\n" });
  });

  it('prints the migrations\' SQL for another schema', async () => {
    const { code, stdout } = await cli(['sql', '--schema', 'other']);
    expect(code).toBe(0);
    expect(stdout).toContain('-- livehub migration 1:');
    expect(stdout).toContain('create table other.messages');
    expect(stdout).not.toContain('{s}');
  });

  it('exits 1 naming the host and cause when the database cannot be reached, and 2 on bad usage', async () => {
    const port = await freePort();
    const down = await cli(['migrate'], { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/x` });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`at 127.0.0.1:${port} failed: connect ECONNREFUSED`);
    expect(await cli(['migrat'])).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown command 'migrat'") });
    expect(await cli(['migrate', '--schema', 'Bad-Name'])).toMatchObject({ code: 2 });
  });
});
