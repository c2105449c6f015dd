import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { RedisEngine } from '../../../pkg/engine/redis.js';
import { perTest } from '../../helpers.js';
import { sharedRedisUrl } from '../../redis.js';

const { cleanup, start } = perTest();

function node(url: string, prefix: string) {
  return start({ logger: false, engine: new RedisEngine({ url, prefix }), canPublish: () => true }, { attach: { path: '/ws', eventsPath: '/events' } });
}

describe('Server-Sent Events on several nodes', () => {
  it('takes a companion POST on another node than the stream, with no sticky sessions', async () => {
    const url = await sharedRedisUrl();
    const prefix = `sse-nodes-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const a = await node(url, prefix);
    const b = await node(url, prefix);
    const source = new EventSource(`${a.base}/events?events=unnamed`);
    cleanup(() => source.close());
    const got: any[] = [];
    source.onmessage = (event) => got.push(JSON.parse(event.data));
    await expect.poll(() => got.find((m) => m.type === 'stream')).toBeDefined();
    const token = got.find((m) => m.type === 'stream').token as string;
    const post = (base: string, command: object) => fetch(`${base}/events`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Livehub-Stream': token }, body: JSON.stringify(command),
    });
    // The subscribe lands on node B; node A holds the stream.
    expect((await post(b.base, { type: 'subscribe', channel: 'orders', id: 1 })).status).toBe(202);
    await expect.poll(() => got.find((m) => m.id === 1), { timeout: 5000 }).toMatchObject({ type: 'subscribed', channel: 'orders' });
    await b.hub.publish('orders', 'created', { n: 1 });
    await expect.poll(() => got.filter((m) => m.channel === 'orders' && 'data' in m).map((m) => m.data), { timeout: 5000 }).toEqual([{ n: 1 }]);
    expect((await post(b.base, { type: 'publish', channel: 'orders', event: 'created', data: { n: 2 }, id: 'x' })).status).toBe(202);
    await expect.poll(() => got.filter((m) => m.channel === 'orders' && 'data' in m).map((m) => m.data), { timeout: 5000 }).toEqual([{ n: 1 }, { n: 2 }]);
    expect(got.find((m) => m.type === 'ack' && m.id === 'x')).toMatchObject({ offset: 2 });
  });
});
