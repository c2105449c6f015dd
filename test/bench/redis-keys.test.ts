import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropKeys } from '../../bench/redis-keys.js';
import { sharedRedisUrl } from '../redis.js';

describe('bench Redis keys', () => {
  let url: string;
  let redis: Redis;
  const run = `lhbench-test-${Date.now().toString(36)}`;
  beforeAll(async () => {
    url = await sharedRedisUrl();
    redis = new Redis(url);
  });
  afterAll(async () => {
    await redis.del(`${run}-other:kept`);
    redis.disconnect();
  });

  it('deletes every key under a run\'s prefix, in several scans, and no key outside it', async () => {
    const pipeline = redis.pipeline();
    for (let i = 0; i < 2500; i++) pipeline.hset(`${run}:m:u${i}`, 'epoch', 'e');
    pipeline.set(`${run}-other:kept`, '1');
    await pipeline.exec();

    expect(await dropKeys(`${run}:`, url)).toBe(2500);
    expect(await redis.exists(`${run}:m:u0`, `${run}:m:u2499`)).toBe(0);
    expect(await redis.get(`${run}-other:kept`)).toBe('1');
    expect(await dropKeys(`${run}:`, url)).toBe(0);
  });

  it('refuses a prefix that would be read as a pattern', async () => {
    await expect(dropKeys('lhbench*', url)).rejects.toThrow(TypeError);
    await expect(dropKeys('a?b', url)).rejects.toThrow(/letters, digits/);
  });
});
