import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RedisEngine } from '../../../pkg/engine/redis.js';
import { Peer } from '../../helpers.js';
import { sharedRedisUrl, startRedis } from '../../redis.js';
import { cleanup, startApi } from './fixture.js';

/** The HTTP API over Redis: a Redis that is down answers 503; idempotent retries across nodes. */

async function redisEngine(url: string, options: Partial<ConstructorParameters<typeof RedisEngine>[0]> = {}) {
  const engine = new RedisEngine({ url, ...options });
  cleanup(() => engine.close());
  return engine;
}

async function subscriber(url: string, channel: string): Promise<Peer> {
  const peer = await Peer.open(url);
  cleanup(() => peer.close());
  await peer.subscribe(channel);
  return peer;
}

const received = (peer: Peer, channel: string, type: string) => peer.messages.filter((m) => m.channel === channel && m.type === type);

describe('the HTTP API with Redis down', () => {
  it('answers 504 outcome_unknown to a publish and 503 to reads with Retry-After while Redis is frozen, logs it, and publishes a retried id once after', async () => {
    const redis = await startRedis();
    cleanup(() => redis.stop());
    cleanup(() => redis.signal('SIGCONT'));
    const engine = await redisEngine(redis.url, { commandTimeout: 500, checkInterval: 200 });
    const api = await startApi({ hub: { engine } });
    const peer = await subscriber(api.ws, 'orders');
    expect((await api.call('POST', '/publish', { channel: 'orders', type: 'created', data: 1 })).status).toBe(200);

    redis.signal('SIGSTOP');
    const order = { channel: 'orders', type: 'created', data: 2, id: 'order-2' };
    const failed = await api.call('POST', '/publish', order);
    expect(failed.status).toBe(504);
    expect(failed.headers.get('retry-after')).toBe('1');
    expect(failed.body.error.code).toBe('outcome_unknown');
    expect(failed.body.error.message).toContain(`Redis at 127.0.0.1:${redis.port}`);
    expect(failed.body.error.message).toContain('retry with the same idempotency id');
    const history = await api.call('GET', '/history?channel=orders');
    expect(history.status).toBe(503);
    expect(history.body.error.code).toBe('unavailable');
    const disconnect = await api.call('POST', '/disconnect', { userId: 'ann' });
    expect(disconnect.status).toBe(503);
    const broadcast = await api.call('POST', '/broadcast', { channels: ['orders', 'other'], type: 't' });
    expect([503, 504]).toContain(broadcast.status);
    expect(api.logs.some((l) => l.level === 'error' && l.code === 'publish_failed')).toBe(true);
    expect(api.logs.some((l) => l.code === 'api_unavailable' && l.message.includes('history'))).toBe(true);

    redis.signal('SIGCONT');
    // Redis may have applied the frozen publish after all: the retry with its id publishes it once.
    await expect.poll(async () => (await api.call('POST', '/publish', order)).status, { timeout: 10_000, interval: 250 }).toBe(200);
    await api.call('POST', '/publish', { channel: 'orders', type: 'marker' });
    await expect.poll(() => received(peer, 'orders', 'marker').length, { timeout: 5000 }).toBe(1);
    expect(received(peer, 'orders', 'created').map((m) => m.data)).toEqual([1, 2]);
  }, 30_000);

  it('answers 503 at once while Redis is not running, and 200 once it is back', async () => {
    const redis = await startRedis();
    cleanup(() => redis.stop());
    const engine = await redisEngine(redis.url, { checkInterval: 200 });
    const api = await startApi({ hub: { engine } });
    expect((await api.call('POST', '/publish', { channel: 'a', type: 't' })).status).toBe(200);
    await redis.stop();
    const down = await api.call('POST', '/publish', { channel: 'a', type: 't' });
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('unavailable');
    const batch = await api.call('POST', '/batch', { commands: [{ method: 'publish', channel: 'a', type: 't' }, { method: 'info' }] });
    expect(batch.status).toBe(200);
    expect(batch.body.results[0]).toMatchObject({ status: 503, error: { code: 'unavailable' } });
    expect(batch.body.results[1].status).toBe(200);
    const again = await startRedis(redis.port);
    cleanup(() => again.stop());
    await expect.poll(async () => (await api.call('POST', '/publish', { channel: 'a', type: 't' })).status, { timeout: 10_000, interval: 250 }).toBe(200);
  }, 30_000);
});

describe('the HTTP API on two nodes sharing Redis', () => {
  it('publishes an id once: the same id through node A then node B answers the same position, and each subscriber gets it once', async () => {
    const url = await sharedRedisUrl();
    const prefix = `livehub-test-api-${randomBytes(6).toString('hex')}`;
    const a = await startApi({ hub: { engine: await redisEngine(url, { prefix }) } });
    const b = await startApi({ hub: { engine: await redisEngine(url, { prefix }) } });
    const onA = await subscriber(a.ws, 'orders');
    const onB = await subscriber(b.ws, 'orders');
    const order = { channel: 'orders', type: 'created', data: { n: 1 }, id: 'order-1' };
    const first = await a.call('POST', '/publish', order);
    const retry = await b.call('POST', '/publish', order);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ channel: 'orders', offset: 1, epoch: expect.any(String) });
    expect(retry.body).toEqual({ ...first.body, duplicate: true });
    const broadcast = { channels: ['orders', 'news'], type: 'alert', id: 'alert-1' };
    const sent = await b.call('POST', '/broadcast', broadcast);
    const resent = await a.call('POST', '/broadcast', broadcast);
    expect(resent.body.results).toEqual(sent.body.results.map((r: object) => ({ ...r, duplicate: true })));
    await a.call('POST', '/publish', { channel: 'orders', type: 'marker' });
    for (const peer of [onA, onB]) {
      await expect.poll(() => received(peer, 'orders', 'marker').length, { timeout: 5000 }).toBe(1);
      expect(peer.messages.filter((m) => m.channel === 'orders' && m.type !== 'subscribed').map((m) => [m.type, m.offset]))
        .toEqual([['created', 1], ['alert', 2], ['marker', 3]]);
    }
    const history = await b.call('GET', '/history?channel=orders');
    expect(history.body.messages.map((m: { type: string }) => m.type)).toEqual(['created', 'alert', 'marker']);
  }, 30_000);
});
