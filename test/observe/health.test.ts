import { afterEach, describe, expect, it } from 'vitest';
import { RedisEngine } from '../../pkg/engine/redis.js';
import { healthHandlers } from '../../pkg/observe/health.js';
import { metricsHandler } from '../../pkg/observe/prometheus.js';
import { Peer } from '../helpers.js';
import { startRedis, type OwnRedis } from '../redis.js';
import { observedHubs, scrape } from './serve.js';

const start = observedHubs();
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const withHealth = (options = {}, health = {}) => start(options, (hub) => {
  const { live, ready } = healthHandlers(hub, health);
  return { '/health/live': live, '/health/ready': ready, '/metrics': metricsHandler(hub) };
});

async function get(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

describe('health endpoints', () => {
  it('answers live and ready with 200 and the node id on a running hub', async () => {
    const { hub, base } = await withHealth();
    expect(await get(`${base}/health/live`)).toMatchObject({ status: 200, body: { status: 'ok', node: hub.node } });
    expect(await get(`${base}/health/ready`)).toEqual({ status: 200, body: { status: 'ok', node: hub.node, engine: 'up', draining: false } });
  });

  it('answers ready 503 once the hub drains, while live stays 200', async () => {
    const { hub, base, url } = await withHealth();
    const peer = await Peer.open(url);
    cleanups.push(() => peer.close());
    const drained = hub.drain({ spread: 50 });
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('5');
    expect(await ready.json()).toMatchObject({ status: 'unavailable', draining: true, reasons: ['draining'] });
    expect((await get(`${base}/health/live`)).status).toBe(200);
    await drained;
    expect((await peer.whenClosed()).code).toBe(1012);
    expect((await scrape(`${base}/metrics`)).value('livehub_draining')).toBe(1);
  });

  it('answers ready 503 naming each app check that fails, throws or times out', async () => {
    const { base } = await withHealth({}, {
      checkTimeout: 100,
      checks: { db: () => true, cache: async () => false, queue: () => { throw new Error('down'); }, slow: () => new Promise<boolean>(() => {}) },
    });
    expect(await get(`${base}/health/ready`)).toMatchObject({
      status: 503, body: { status: 'unavailable', engine: 'up', reasons: ['check cache failed', 'check queue failed', 'check slow failed'] },
    });
  });

  it('answers 405 to other methods and throws a TypeError for unknown or bad options', async () => {
    const { hub, base } = await withHealth();
    expect((await fetch(`${base}/health/ready`, { method: 'POST' })).status).toBe(405);
    expect(() => healthHandlers(hub, { check: {} } as never)).toThrow(/unknown option 'check' for healthHandlers\(\); did you mean 'checks'\?/);
    expect(() => healthHandlers(hub, { checks: { db: true } } as never)).toThrow(/check "db" must be a function/);
    expect(() => healthHandlers(hub, { checkTimeout: -1 })).toThrow(TypeError);
  });
});

describe('readiness over Redis', () => {
  it('flips ready to 503 when Redis stops and back to 200 when it returns, with engine_up following', async () => {
    let redis: OwnRedis = await startRedis();
    cleanups.push(() => redis.stop());
    const engine = new RedisEngine({ url: redis.url, checkInterval: 200, commandTimeout: 500 });
    cleanups.push(() => engine.close());
    const { base } = await withHealth({ engine, logger: false });
    await expect.poll(async () => (await get(`${base}/health/ready`)).status, { timeout: 10_000 }).toBe(200);

    await redis.stop();
    await expect.poll(async () => (await get(`${base}/health/ready`)).status, { timeout: 10_000 }).toBe(503);
    expect((await get(`${base}/health/ready`)).body).toMatchObject({ engine: 'down', draining: false, reasons: ['engine unreachable'] });
    expect((await get(`${base}/health/live`)).status).toBe(200);
    const down = await scrape(`${base}/metrics`);
    expect(down.value('livehub_engine_up')).toBe(0);
    expect(down.samples.filter((s) => s.name === 'livehub_engine_down_total').reduce((sum, s) => sum + s.value, 0)).toBe(1);

    redis = await startRedis(redis.port);
    await expect.poll(async () => (await get(`${base}/health/ready`)).status, { timeout: 15_000 }).toBe(200);
    expect((await get(`${base}/health/ready`)).body).toMatchObject({ engine: 'up' });
    expect((await scrape(`${base}/metrics`)).value('livehub_engine_up')).toBe(1);
  });
});
