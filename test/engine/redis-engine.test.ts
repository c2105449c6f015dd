import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engineConformance, type EngineHandlers, type Publication } from 'livehub/engine';
import { Hub } from 'livehub';
import { RedisEngine } from 'livehub/redis';
import { freePort, sharedRedisUrl, startRedis } from '../redis.js';

let shared = '';
beforeAll(async () => { shared = await sharedRedisUrl(); });

/** A prefix no other test uses (or the store's, shared by its engines), and a cleanup deleting its keys. */
function unique(store = randomBytes(4).toString('hex')) {
  const prefix = `lhtest-${store}`;
  const cleanup = async () => {
    const redis = new Redis(shared);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  };
  return { prefix, cleanup };
}

engineConformance('RedisEngine', { describe, it, afterEach }, {
  shared: true,
  acknowledgements: true,
  make: (store) => {
    const { prefix, cleanup } = unique(store);
    return { engine: new RedisEngine({ url: shared, prefix }), cleanup };
  },
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

type LogLine = { level: string; cause: string; context: Record<string, unknown>; message: string };
function handlers(delivered: Publication[] = [], logs: LogLine[] = []): EngineHandlers {
  return {
    node: randomBytes(4).toString('hex'),
    message: () => {},
    deliver: (p) => delivered.push(p),
    reset: () => {},
    log: (level, cause, context, message) => logs.push({ level, cause, context, message }),
  };
}

describe('RedisEngine options', () => {
  it('throws a TypeError naming an unknown option and the closest valid one', () => {
    expect(() => new RedisEngine({ prefx: 'x' } as never)).toThrow(new TypeError("livehub: unknown option 'prefx' for new RedisEngine(); did you mean 'prefix'?"));
    expect(() => new RedisEngine({ commandTimeOut: 5 } as never)).toThrow("did you mean 'commandTimeout'?");
  });
});

describe('RedisEngine when Redis cannot be reached', () => {
  it('logs a line naming the host, the error and the fix, and rejects publishes with code unavailable naming the host', async () => {
    const port = await freePort();
    const engine = new RedisEngine({ url: `redis://127.0.0.1:${port}`, startupWait: 200 });
    cleanups.push(() => engine.close());
    const logs: LogLine[] = [];
    await engine.start(handlers([], logs));
    await expect.poll(() => logs.length).toBeGreaterThan(0);
    expect(logs[0]).toMatchObject({ level: 'warn', context: { code: 'engine_unreachable', host: `127.0.0.1:${port}` } });
    expect(logs[0]!.message).toContain(`Redis at 127.0.0.1:${port} is unreachable (connect ECONNREFUSED`);
    expect(logs[0]!.message).toContain('REDIS_URL');
    const failure = await Promise.resolve(engine.publish('x', 'm', '1', { size: 10, ttl: 1000 })).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).toMatchObject({ code: 'unavailable' });
    expect((failure as Error).message).toMatch(new RegExp(`publish to channel 'x' failed: Redis at 127\\.0\\.0\\.1:${port} is unreachable \\(connect ECONNREFUSED`));
    for (const call of [engine.history('x', null), engine.presence('x'), engine.addPresence('x', { clientId: 'c', userId: 'u', status: 'online' }, 1000)]) {
      await expect(call).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining(`127.0.0.1:${port}`) });
    }
  });
});

describe('RedisEngine idempotent publish when the publish fails', () => {
  it('leaves the key free: a publish refused by an ACL is retried with the same key once allowed, delivered once, then answered as a duplicate', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const admin = new Redis(redis.url);
    cleanups.push(() => admin.disconnect());
    await admin.call('ACL', 'SETUSER', 'hub', 'on', '>secret', '~*', '&*', '+@all');
    const engine = new RedisEngine({ url: `redis://hub:secret@127.0.0.1:${redis.port}` });
    cleanups.push(() => engine.close());
    const delivered: Publication[] = [];
    await engine.start(handlers(delivered));
    await engine.subscribe('orders');
    // A Redis user that may no longer run scripts (an ACL change under a running hub).
    await admin.call('ACL', 'SETUSER', 'hub', '-eval', '-evalsha');
    const once = { idempotencyKey: 'order-1', idempotencyTtl: 60_000 };
    const failure = await engine.publish('orders', 'm', '{"n":1}', { size: 10, ttl: 60_000 }, once).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/Redis at 127\.0\.0\.1:\d+ refused the command \(NOPERM/) });
    await admin.call('ACL', 'SETUSER', 'hub', '+eval', '+evalsha');
    const retry = await engine.publish('orders', 'm', '{"n":1}', { size: 10, ttl: 60_000 }, once);
    expect(retry).toMatchObject({ offset: 1 });
    expect(retry.duplicate).toBeFalsy();
    await expect.poll(() => delivered.length).toBe(1);
    const { publications } = await engine.history('orders', { offset: 0, epoch: retry.epoch });
    expect(publications.map((p) => JSON.parse(p.data))).toEqual([{ n: 1 }]);
    expect(await engine.publish('orders', 'm', '{"n":1}', { size: 10, ttl: 60_000 }, once)).toEqual({ ...retry, duplicate: true });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(delivered.map((p) => p.offset)).toEqual([1]);
  });
});

describe('RedisEngine history written by versions that stored whole payloads', () => {
  it('reads entries holding the hub JSON in one field into publications, and continues the stream after them', async () => {
    const { prefix, cleanup } = unique();
    cleanups.push(cleanup);
    const redis = new Redis(shared);
    cleanups.push(() => redis.disconnect());
    await redis.hset(`${prefix}:m:old`, 'e', 'E1', 'o', 2);
    await redis.xadd(`${prefix}:h:old`, '*', 'o', 1, 'p', '{"channel":"old","type":"said","data":{"text":"hi there"},"offset":1,"tags":{"k":"v w"},"trace":{"ts":5},"from":{"user":"ann","client":"c1","echo":false}}');
    await redis.xadd(`${prefix}:h:old`, '*', 'o', 2, 'p', '{"channel":"old","type":"said","data":2,"offset":2}');
    const hub = new Hub({ logger: false, engine: new RedisEngine({ url: shared, prefix }) });
    cleanups.push(() => hub.close());
    expect(await hub.publish('old', 'said', 3)).toEqual({ offset: 3, epoch: 'E1' });
    const { messages, complete } = await hub.history('old', { limit: 10 });
    expect(complete).toBe(true);
    expect(messages).toEqual([
      { channel: 'old', type: 'said', data: { text: 'hi there' }, offset: 1, tags: { k: 'v w' }, trace: { ts: 5 }, from: { user: 'ann', client: 'c1', echo: false } },
      { channel: 'old', type: 'said', data: 2, offset: 2 },
      { channel: 'old', type: 'said', data: 3, offset: 3 },
    ]);
  });
});
