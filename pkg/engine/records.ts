import type { EngineRecords } from './engine.js';

/** The Redis engine's records: one key each (`{p}:rec:{key}`) with Redis's own expiry; a take is GETDEL. */
export function redisRecords(prefix: string, call: <T>(what: string, run: (redis: RedisCommands) => Promise<T>) => Promise<T>): EngineRecords {
  const key = (name: string) => `${prefix}:rec:${name}`;
  return {
    put: async (name, value, ttl) => { await call(`a write of record '${name}'`, (redis) => redis.set(key(name), value, 'PX', Math.max(1, Math.ceil(ttl)))); },
    take: (name) => call(`a read of record '${name}'`, (redis) => redis.getdel(key(name))),
    delete: async (name) => { await call(`a removal of record '${name}'`, (redis) => redis.del(key(name))); },
  };
}

/** The Redis commands records use. */
export interface RedisCommands {
  set(key: string, value: string, mode: 'PX', ms: number): Promise<unknown>;
  getdel(key: string): Promise<string | null>;
  del(key: string): Promise<number>;
}

/** The PostgreSQL engine's records: rows of `{schema}.records`, expired ones never read and trimmed with the history. */
export function postgresRecords(schema: string, query: <R>(what: string, text: string, values: unknown[], write?: boolean) => Promise<R[]>): EngineRecords {
  return {
    put: async (name, value, ttl) => {
      await query(`a write of record '${name}'`, `insert into ${schema}.records (key, value, expires_at) values ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
        on conflict (key) do update set value = excluded.value, expires_at = excluded.expires_at`, [name, value, Math.max(1, Math.ceil(ttl))], true);
    },
    take: async (name) => {
      const rows = await query<{ value: string; live: boolean }>(`a read of record '${name}'`,
        `delete from ${schema}.records where key = $1 returning value, expires_at > clock_timestamp() as live`, [name], true);
      return rows[0]?.live ? rows[0].value : null;
    },
    delete: async (name) => { await query(`a removal of record '${name}'`, `delete from ${schema}.records where key = $1`, [name], true); },
  };
}
