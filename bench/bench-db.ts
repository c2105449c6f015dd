import pg from 'pg';

/** The shared PostgreSQL the bench makes its databases on. */
export const POSTGRES = process.env.LIVEHUB_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A database of its own on the shared PostgreSQL for one bench run; `drop()` removes it. */
export async function benchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `livehub_bench_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const admin = new pg.Client({ connectionString: POSTGRES });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(POSTGRES);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: POSTGRES });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
