import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engineConformance } from 'livehub/engine';
import { PostgresEngine } from 'livehub/postgres';
import { testDatabase } from './postgres-db.js';

let db: Awaited<ReturnType<typeof testDatabase>>;
beforeAll(async () => { db = await testDatabase(); });
afterAll(async () => { await db?.drop(); });

// Each store is a schema of its own in this file's database: the nodes of one test share it.
engineConformance('PostgresEngine', { describe, it, afterEach }, {
  shared: true,
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
