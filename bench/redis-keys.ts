import { Redis } from 'ioredis';

/**
 * Deletes every key under `prefix` from the bench's Redis, when a run that used it ends. The Redis
 * engine keeps each channel's position for a day (so that an epoch survives a quiet channel), and
 * W7 alone leaves 100,000 of them (about 35 MB): left in the machine's shared Redis, runs would pile
 * them up and the next rows on Redis would run against a fuller server. Returns how many were deleted.
 */
export async function dropKeys(prefix: string, url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'): Promise<number> {
  if (!/^[\w:-]+$/.test(prefix)) throw new TypeError(`dropKeys: a bench prefix is letters, digits, _, : and -, not ${JSON.stringify(prefix)}`);
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let dropped = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) dropped += await redis.unlink(...keys);
    } while (cursor !== '0');
    return dropped;
  } finally {
    redis.disconnect();
  }
}

/** dropKeys, reporting a failure on stderr instead of failing the run (the rows are measured by then). */
export async function dropKeysAfterRun(prefix: string, what: string): Promise<void> {
  await dropKeys(prefix).catch((error: unknown) => {
    console.error(`livehub bench ${what}: could not delete the run's Redis keys (${prefix}*): ${(error as Error).message}; delete them with redis-cli --scan --pattern '${prefix}*' | xargs redis-cli unlink`);
  });
}
