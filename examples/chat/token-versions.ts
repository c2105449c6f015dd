import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Redis, type ChainableCommander } from 'ioredis';

/**
 * Where logouts are remembered: each user's token version. A token carries the version it was issued
 * with (`ver`); a logout moves the version on, so every token issued before is refused from then on,
 * on every node and after a restart, as long as the store is shared and lasting:
 *
 * - `redisTokenVersions` when the chat runs on Redis (every node reads the same keys),
 * - `fileTokenVersions` for one node with the memory engine (a restart reads the file back),
 * - `memoryTokenVersions` only when nothing outlives the process anyway (a random secret per process).
 *
 * A version is kept as long as a token carrying it can live (`TOKEN_LIFETIME_MS` from the last login
 * or logout); after that every token of the user has expired, so the store forgets the user.
 */
export interface TokenVersions {
  /** The version a new token of `user` carries; kept at least a token's lifetime from now. */
  issue(user: string): Promise<number>;
  /** The version a token of `user` must carry to be accepted. */
  current(user: string): Promise<number>;
  /** Logout: moves the version on, so every token issued before is refused from now on. */
  revoke(user: string): Promise<void>;
  /** Releases the store's connection. */
  close(): Promise<void>;
  /** Where the versions are kept, for the start-up log line. */
  readonly where: string;
}

/** How long a login lasts: the tokens' `exp`, the cookie's max-age, and how long versions are kept. */
export const TOKEN_LIFETIME_MS = 60 * 60_000;

interface Entry { version: number; until: number }

/** Versions in this process only: a restart forgets every logout, and other nodes never see one. */
export function memoryTokenVersions(lifetime = TOKEN_LIFETIME_MS): TokenVersions {
  return mapStore(new Map(), lifetime, () => {}, 'this process only (a restart forgets logouts)');
}

/**
 * Versions in a JSON file, written (atomically: a temporary file renamed over it) on every login and
 * logout and read back at start, so a restarted node still refuses tokens logged out before. For one
 * node: two processes writing the same file would overwrite each other's logouts (use Redis).
 */
export function fileTokenVersions(path: string, lifetime = TOKEN_LIFETIME_MS): TokenVersions {
  const entries = new Map<string, Entry>();
  let text: string | null = null;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== null) {
    let saved: unknown;
    try {
      saved = JSON.parse(text);
    } catch (error) {
      throw new Error(`the token versions file ${path} is not JSON (${(error as Error).message}): fix or delete it (deleting it forgets every logout of the last hour)`);
    }
    for (const [user, entry] of Object.entries(saved as Record<string, Entry>)) {
      if (Number.isInteger(entry?.version) && typeof entry.until === 'number') entries.set(user, { version: entry.version, until: entry.until });
    }
  }
  mkdirSync(dirname(path), { recursive: true });
  const save = () => {
    const now = Date.now();
    for (const [user, entry] of entries) if (entry.until <= now) entries.delete(user);
    writeFileSync(`${path}.tmp`, JSON.stringify(Object.fromEntries(entries)));
    renameSync(`${path}.tmp`, path);
  };
  return mapStore(entries, lifetime, save, `the file ${path}`);
}

function mapStore(entries: Map<string, Entry>, lifetime: number, save: () => void, where: string): TokenVersions {
  const live = (user: string) => {
    const entry = entries.get(user);
    return entry && entry.until > Date.now() ? entry : undefined;
  };
  const keep = (user: string, version: number) => {
    entries.set(user, { version, until: Date.now() + lifetime });
    save();
  };
  return {
    where,
    async issue(user) {
      const version = live(user)?.version ?? 0;
      if (version > 0) keep(user, version);
      return version;
    },
    async current(user) { return live(user)?.version ?? 0; },
    async revoke(user) { keep(user, (live(user)?.version ?? 0) + 1); },
    async close() {},
  };
}

/** Runs a MULTI block: its replies, or the first error in it. */
async function transaction(multi: ChainableCommander): Promise<unknown[]> {
  const replies = await multi.exec();
  if (!replies) throw new Error('the Redis transaction was aborted');
  for (const [error] of replies) if (error) throw error;
  return replies.map(([, reply]) => reply);
}

/** Options of `redisTokenVersions`. */
export interface RedisTokenVersionsOptions {
  /** redis:// URL: the Redis the chat's nodes share. */
  url: string;
  /** Key prefix: the keys are `<prefix>:token-version:<user>`. @default 'livehub-chat' */
  prefix?: string;
  /** Milliseconds Redis has to answer before a login check fails (503, never a silent pass). @default 3000 */
  commandTimeout?: number;
  lifetime?: number;
}

/**
 * Versions in Redis, one key per user who logged out, expiring a token's lifetime after the last login
 * or logout: every node sharing the Redis sees a logout at once, and a restart changes nothing. While
 * Redis does not answer, the calls reject: a login check then refuses (503) rather than passes.
 */
export function redisTokenVersions(options: RedisTokenVersionsOptions): TokenVersions {
  const { url, prefix = 'livehub-chat', commandTimeout = 3000, lifetime = TOKEN_LIFETIME_MS } = options;
  const redis = new Redis(url, { commandTimeout, connectTimeout: commandTimeout, maxRetriesPerRequest: 1, retryStrategy: (times) => Math.min(50 * 2 ** times, 2000) });
  // Failures reach the callers (a login check answers 503); ioredis's own reconnect errors are not news.
  redis.on('error', () => {});
  const key = (user: string) => `${prefix}:token-version:${user}`;
  return {
    where: `Redis at ${url.replace(/\/\/[^@/]*@/, '//')} (${prefix}:token-version:*)`,
    async issue(user) {
      // A token issued now lives `lifetime`: its version must outlive it (PEXPIRE is a no-op without a key).
      const [version] = await transaction(redis.multi().get(key(user)).pexpire(key(user), lifetime));
      return Number(version ?? 0);
    },
    async current(user) { return Number(await redis.get(key(user)) ?? 0); },
    async revoke(user) { await transaction(redis.multi().incr(key(user)).pexpire(key(user), lifetime)); },
    async close() { redis.disconnect(); },
  };
}
