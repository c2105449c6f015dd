import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineHandlers, Publication } from '../../pkg/engine/engine.js';
import { RedisEngine } from '../../pkg/engine/redis.js';
import { defineScripts } from '../../pkg/engine/redis-scripts.js';
import { dropKeys } from '../../bench/redis-keys.js';

/** The Redis engine's periodic check for a lost tail, on the shared Redis under a prefix of its own. */

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const cleanups: Array<() => unknown> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

const keep = { size: 100, ttl: 60_000 };

async function node(prefix: string) {
  const e = new RedisEngine({ url, prefix, checkInterval: 200 });
  cleanups.push(() => e.close());
  const delivered: Publication[] = [];
  const repaired: string[] = [];
  const handlers: EngineHandlers = {
    node: `check-${Math.random().toString(36).slice(2)}`,
    message: () => {},
    deliver: (p) => delivered.push(p),
    reset: () => {},
    log: (_level, _cause, context) => { if (context.code === 'engine_repaired') repaired.push(String(context.channel)); },
  };
  await e.start(handlers);
  return { e, delivered, repaired };
}

/**
 * Writes a publication into Redis as a publish does (position, history) but announces it on a pub/sub
 * channel nobody listens to: for the nodes, a publication whose message was lost on the way.
 */
async function publishUnannounced(prefix: string, channel: string, data: string) {
  const redis = defineScripts(new Redis(url));
  cleanups.push(() => redis.quit());
  const meta = `${prefix}:m:${channel}`;
  await redis.livehubPublish(meta, `${prefix}:h:${channel}`, meta, channel, 'lost', JSON.stringify(data), keep.size, keep.ttl,
    'unused-epoch', `${prefix}:nowhere`, 86_400_000, 0, '', '', '');
}

describe('the Redis engine\'s check for a lost tail', () => {
  it('finds a publication whose pub/sub message never arrived, on the first and the last of 2,500 channels of a node', async () => {
    const prefix = `lh-check-${Date.now().toString(36)}`;
    // 2,500 channel positions the engine keeps for a day: not left in the machine's shared Redis.
    cleanups.unshift(() => dropKeys(`${prefix}:`, url));
    const a = await node(prefix);
    const channels = Array.from({ length: 2500 }, (_, i) => `room-${i}`);
    for (const channel of channels) await a.e.subscribe(channel);
    // Positions are known once each channel has a publication seen through pub/sub.
    for (const channel of channels) await a.e.publish(channel, 'seen', '"x"', keep);
    await expect.poll(() => a.delivered.length, { timeout: 20_000 }).toBe(channels.length);

    await publishUnannounced(prefix, 'room-0', 'first');
    await publishUnannounced(prefix, 'room-2499', 'last');
    await expect.poll(() => a.delivered.filter((p) => p.type === 'lost').map((p) => [p.channel, p.offset, JSON.parse(p.data)]).sort(), { timeout: 10_000 })
      .toEqual([['room-0', 2, 'first'], ['room-2499', 2, 'last']]);
    expect(a.repaired.sort()).toEqual(['room-0', 'room-2499']);
    // Nothing else was delivered twice or out of turn: each channel's offsets run 1, 2 (the lost one) at most.
    const offsets = new Map<string, number[]>();
    for (const p of a.delivered) offsets.set(p.channel, [...(offsets.get(p.channel) ?? []), p.offset]);
    for (const [channel, list] of offsets) expect(list, channel).toEqual(channel === 'room-0' || channel === 'room-2499' ? [1, 2] : [1]);
  }, 60_000);
});
