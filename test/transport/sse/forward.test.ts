import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisEngine } from '../../../pkg/engine/redis.js';
import type { HubOptions } from '../../../pkg/index.js';
import { perTest, recordingLogger } from '../../helpers.js';
import { gc } from '../../hostile/fixture.js';
import { sharedRedisUrl } from '../../redis.js';

const { start, cleanup } = perTest();
const eventsHub = (options: HubOptions) => start(options, { attach: { path: '/ws', eventsPath: '/events' } });

/** `count` SSE commands whose stream tokens name made-up nodes, `lanes` at a time; their statuses. */
async function flood(base: string, count: number, lanes = 50): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (next < count) {
      const i = next++;
      const response = await fetch(`${base}/events`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Livehub-Stream': `madeup${i}.madeup${i}-1.AAAAAAAAAAAAAAAAAAAAAA` },
        body: '{"type":"ping"}',
      });
      await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
  }));
  return statuses;
}

describe('SSE commands whose token names a node that is not running', () => {
  it('are answered 404 no_stream and logged, and a flood of made-up nodes leaves the heap flat', async () => {
    const { logger, lines } = recordingLogger();
    const { base } = await eventsHub({ logger });
    await flood(base, 500);
    gc();
    const before = process.memoryUsage().heapUsed;
    const statuses = await flood(base, 10_000);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(statuses).toEqual(new Map([[404, 10_000]]));
    // Made-up nodes kept 8 KiB each before (78 MiB for 10,000): now nothing is kept per name.
    expect(grown).toBeLessThan(8 * 1024 * 1024);
    expect(lines.find((line) => line.code === 'no_stream_node')?.message).toMatch(/named node "madeup\d+", which no node sharing the engine is; answered 404 no_stream/);
  }, 120_000); // 10,500 requests: minutes on a loaded two-core machine, and only the heap is measured

  it('leave no key behind in Redis (a command for a live node is in sse-nodes.test.ts)', async () => {
    const url = await sharedRedisUrl();
    const prefix = `sse-forward-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const { base } = await eventsHub({ logger: false, engine: new RedisEngine({ url, prefix }) });
    const redis = new Redis(url);
    cleanup(() => redis.quit());
    const keys = async () => (await redis.keys(`${prefix}*`)).sort();
    const before = await keys();
    expect(await flood(base, 500, 20)).toEqual(new Map([[404, 500]]));
    expect(await keys()).toEqual(before);
  });
});
