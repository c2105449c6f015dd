import { afterEach, describe, expect, it } from 'vitest';
import type { EngineHandlers, Publication, StreamPosition } from '../../pkg/engine/engine.js';
import { RedisEngine, type RedisEngineOptions } from '../../pkg/engine/redis.js';
import { startRedis } from '../redis.js';
import { blackholeProxy } from './blackhole-proxy.js';

/** Faults of a Redis of the test's own (frozen, blackholed): never the shared one. */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cleanups: Array<() => unknown> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

type LogLine = { level: string; code: string; message: string };

async function engine(options: RedisEngineOptions) {
  const e = new RedisEngine(options);
  cleanups.push(() => e.close());
  const delivered: Publication[] = [];
  const logs: LogLine[] = [];
  const resets: Array<{ channel: string } & StreamPosition> = [];
  const handlers: EngineHandlers = {
    node: 'faults',
    message: () => {},
    deliver: (p) => delivered.push(p),
    reset: (channel, position) => resets.push({ channel, ...position }),
    log: (level, _cause, context, message) => logs.push({ level, code: context.code, message }),
  };
  await e.start(handlers);
  await expect.poll(() => e.commands.status === 'ready' && e.subscriber.status === 'ready').toBe(true);
  return { e, delivered, logs, resets };
}

/** How long a call took to settle, and how: 'resolved' or the rejection's code. */
async function settle(call: () => Promise<unknown>): Promise<{ ms: number; outcome: unknown; message: string }> {
  const began = Date.now();
  try {
    await call();
    return { ms: Date.now() - began, outcome: 'resolved', message: '' };
  } catch (error) {
    return { ms: Date.now() - began, outcome: (error as { code?: unknown }).code, message: (error as Error).message };
  }
}

const keep = { size: 10_000, ttl: 60_000 };

describe('the Redis engine and a frozen Redis (SIGSTOP)', () => {
  it('rejects a publish Redis froze on with outcome_unknown and reads with unavailable within commandTimeout, and works again after SIGCONT', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop(), () => redis.signal('SIGCONT'));
    const commandTimeout = 500;
    const { e, delivered, logs } = await engine({ url: redis.url, commandTimeout, checkInterval: 200 });
    await e.subscribe('frozen');
    await e.publish('frozen', 'm', '0', keep);
    redis.signal('SIGSTOP');
    const calls = [
      () => e.publish('frozen', 'm', '1', keep),
      () => e.publish('frozen', 'm', '2', keep, { idempotencyKey: 'k', idempotencyTtl: 60_000 }),
      () => e.history('frozen', null),
      () => e.presence('room'),
      () => e.addPresence('room', { clientId: 'c', userId: 'u', status: 'online' }, 10_000),
      () => e.sweepPresence('room'),
    ];
    const results = await Promise.all(calls.map(settle));
    // The two publishes were sent and got no answer: Redis may apply them when it wakes, so their
    // outcome is unknown; the rest were reads (or presence writes) that say unavailable.
    expect(results.map((r) => r.outcome)).toEqual(['outcome_unknown', 'outcome_unknown', 'unavailable', 'unavailable', 'unavailable', 'unavailable']);
    expect(results[0]!.message).toContain('may or may not have been applied');
    for (const result of results) {
      expect(result.message).toContain(`Redis at 127.0.0.1:${redis.port}`);
      expect(result.ms).toBeLessThan(commandTimeout + 1500); // the deadline, plus scheduling slack
    }
    expect(results.some((r) => r.message.includes(`did not answer within ${commandTimeout} ms`))).toBe(true);
    // Still frozen: later calls keep failing within the bound, none waits for Redis to come back.
    // The time frozen is the condition here, so it is waited out.
    await sleep(1000);
    const later = await Promise.all(Array.from({ length: 50 }, () => settle(() => e.publish('frozen', 'm', '3', keep))));
    for (const result of later) {
      // Sent on the frozen connection (unknown), or refused unsent while it reconnects (unavailable).
      expect(['outcome_unknown', 'unavailable']).toContain(result.outcome);
      expect(result.ms).toBeLessThan(commandTimeout + 1500);
    }
    expect(logs.some((l) => l.level === 'warn' && /engine_(timeout|unreachable)/.test(l.code) && l.message.includes(`127.0.0.1:${redis.port}`))).toBe(true);
    redis.signal('SIGCONT');
    await expect.poll(async () => (await settle(() => e.publish('frozen', 'm', '"after"', keep))).outcome, { timeout: 10_000, interval: 200 }).toBe('resolved');
    await expect.poll(() => delivered.some((p) => p.data === '"after"'), { timeout: 5000 }).toBe(true);
    expect((await e.history('frozen', null)).position.offset).toBeGreaterThanOrEqual(2);
    // The idempotent publish that was answered outcome_unknown: its retry settles it, once.
    const retried = await e.publish('frozen', 'm', '2', keep, { idempotencyKey: 'k', idempotencyTtl: 60_000 });
    const history = await e.history('frozen', { offset: 0, epoch: (await e.history('frozen', null)).position.epoch });
    expect(history.publications.filter((p) => p.data === '2')).toHaveLength(1);
    expect(history.publications.find((p) => p.data === '2')!.offset).toBe(retried.offset);
  }, 30_000);
});

describe('the Redis engine and a Redis restarted empty', () => {
  it('reports the reset to the hub and in a log line naming the channel and the host', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const { e, logs, resets } = await engine({ url: redis.url, checkInterval: 200 });
    await e.subscribe('lost');
    const before = await e.publish('lost', 'm', '1', keep);
    await e.publish('lost', 'm', '2', keep);
    await redis.stop();
    const again = await startRedis(redis.port);
    cleanups.push(() => again.stop());
    await expect.poll(async () => (await settle(() => e.publish('lost', 'm', '3', keep))).outcome, { timeout: 10_000, interval: 200 }).toBe('resolved');
    await expect.poll(() => resets.length, { timeout: 5000 }).toBeGreaterThan(0);
    expect(resets[0]!.channel).toBe('lost');
    expect(resets[0]!.epoch).not.toBe(before.epoch);
    const line = logs.find((l) => l.code === 'engine_reset');
    expect(line?.level).toBe('warn');
    expect(line?.message).toContain(`channel 'lost'`);
    expect(line?.message).toContain(`Redis at 127.0.0.1:${redis.port}`);
    expect(logs.some((l) => l.code === 'engine_disconnected' && l.message.includes(`lost the commands connection to Redis at 127.0.0.1:${redis.port}`))).toBe(true);
  }, 30_000);
});

describe('the Redis engine and a half-dead pub/sub connection', () => {
  it('finds a blackholed subscriber connection, replaces it and catches up from history, without the blackhole lifting', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const proxy = await blackholeProxy({ host: '127.0.0.1', port: redis.port });
    cleanups.push(() => proxy.close());
    const a = await engine({ url: proxy.url, commandTimeout: 500, checkInterval: 200 }); // node A, through the proxy
    const b = await engine({ url: redis.url }); // node B, direct
    await a.e.subscribe('steady');
    await expect.poll(() => proxy.liveSubscribers()).toBe(1);
    let published = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        await b.e.publish('steady', 'n', String(published + 1), keep);
        published++;
        await sleep(5); // paces the load: about 200 publications a second
      }
    })();
    cleanups.push(async () => { publishing = false; await publisher; });
    await expect.poll(() => a.delivered.length).toBeGreaterThan(20);
    expect(proxy.blackholeSubscribers()).toBe(1);
    const holedAt = published;
    // A's old subscriber connection stays blackholed; A must notice on its own and catch up.
    await expect.poll(() => a.delivered.length, { timeout: 8000 }).toBeGreaterThan(holedAt + 100);
    publishing = false;
    await publisher;
    await expect.poll(() => a.delivered.length, { timeout: 5000 }).toBe(published);
    expect(a.delivered.map((p) => p.offset)).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    expect(a.delivered.map((p) => JSON.parse(p.data))).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    expect(a.resets).toEqual([]);
    expect(a.logs.some((l) => l.code === 'engine_pubsub_dead' && l.message.includes('stopped answering'))).toBe(true);
    expect(a.logs.some((l) => l.code === 'engine_repaired' && l.message.includes("channel 'steady'"))).toBe(true);
    expect(proxy.liveSubscribers()).toBe(1); // a new connection replaced the blackholed one
  }, 30_000);
});

describe('the Redis engine and a half-dead commands connection', () => {
  it('fails calls within commandTimeout on a blackholed connection, then replaces it and works again without the blackhole lifting', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const proxy = await blackholeProxy({ host: '127.0.0.1', port: redis.port });
    cleanups.push(() => proxy.close());
    const commandTimeout = 500;
    const { e, delivered, logs } = await engine({ url: proxy.url, commandTimeout, checkInterval: 200 });
    await e.subscribe('cut');
    expect((await e.publish('cut', 'm', '1', keep)).offset).toBe(1);
    expect(proxy.blackholeAll()).toBe(2);
    const cut = await settle(() => e.publish('cut', 'm', '2', keep, { idempotencyKey: 'two', idempotencyTtl: 60_000 }));
    // Sent and unanswered: the engine cannot know whether Redis applied it.
    expect(cut.outcome).toBe('outcome_unknown');
    expect(cut.message).toContain(`nothing within ${commandTimeout} ms`);
    expect(cut.ms).toBeLessThan(commandTimeout + 1500);
    // New connections pass the proxy: the engine must replace the dead one by itself. The retry with
    // the same key publishes once (the blackholed attempt never reached Redis).
    await expect.poll(async () => (await settle(() => e.publish('cut', 'm', '2', keep, { idempotencyKey: 'two', idempotencyTtl: 60_000 }))).outcome,
      { timeout: 10_000, interval: 200 }).toBe('resolved');
    await expect.poll(() => delivered.map((p) => p.offset), { timeout: 10_000 }).toEqual([1, 2]);
    expect(logs.some((l) => l.level === 'warn' && l.message.includes(`Redis at 127.0.0.1:${proxy.url.split(':').pop()}`))).toBe(true);
  }, 30_000);
});
