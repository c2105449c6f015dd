import { describe, expect, it } from 'vitest';
import { RedisEngine } from 'livehub/redis';
import { Peer, perTest } from '../helpers.js';
import { sharedRedisUrl } from '../redis.js';
import { balancer, clientFor, record, startApp } from './app.js';

const harness = perTest();
const { cleanup } = harness;
const poll = { timeout: 15_000 };

/** Two nodes of one app sharing Redis (a prefix of their own). */
async function twoNodes() {
  const url = await sharedRedisUrl();
  const prefix = `trpc-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  return Promise.all([0, 1].map(() => startApp(harness, { authorize: () => true, engine: new RedisEngine({ url, prefix }) })));
}

describe('livehub/trpc on two nodes sharing Redis', () => {
  it('a publish through one node\'s tRPC reaches the other node\'s tRPC subscription and WebSocket subscriber, and the reverse', async () => {
    const [a, b] = await twoNodes();
    const sub = record(clientFor(b!.base, 'bob'), { channel: 'news' });
    cleanup(() => sub.unsubscribe());
    await expect.poll(() => sub.kinds(), poll).toEqual(['subscribed']);
    const peer = await Peer.open(a!.url);
    cleanup(() => peer.close());
    await peer.subscribe('news');
    await clientFor(a!.base, 'ann').realtime.publish.mutate({ channel: 'news', type: 'from-a', data: 1 });
    await clientFor(b!.base, 'ann').realtime.publish.mutate({ channel: 'news', type: 'from-b', data: 2 });
    await expect.poll(() => sub.events.flatMap((e) => (e.data.kind === 'message' ? [e.data.message.type] : [])), poll).toEqual(['from-a', 'from-b']);
    expect((await peer.next((m) => m.channel === 'news')).type).toBe('from-a');
    expect((await peer.next((m) => m.channel === 'news')).type).toBe('from-b');
    expect(sub.offsets()).toEqual([1, 2]);
  });

  it('a subscription whose node closes resumes on the other node from its last event: nothing missed, nothing twice', async () => {
    const [a, b] = await twoNodes();
    const front = await balancer(a!);
    cleanup(() => front.close());
    const sub = record(clientFor(front.base, 'bob'), { channel: 'feed' });
    cleanup(() => sub.unsubscribe());
    await expect.poll(() => sub.kinds(), poll).toEqual(['subscribed']);
    for (let i = 1; i <= 3; i++) await b!.hub.publish('feed', 'item', i);
    await expect.poll(() => sub.offsets(), poll).toEqual([1, 2, 3]);
    // a closes (its subscriptions end with SERVICE_UNAVAILABLE, which tRPC's client reconnects
    // after), and the balancer sends the reconnect to b.
    await a!.hub.close();
    front.failOver(b!);
    for (let i = 4; i <= 6; i++) await b!.hub.publish('feed', 'item', i);
    await expect.poll(() => sub.offsets(), poll).toEqual([1, 2, 3, 4, 5, 6]);
    expect(b!.hub.info().connections.trpc).toBe(1);
    await b!.hub.publish('feed', 'item', 7);
    await expect.poll(() => sub.offsets(), poll).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(sub.kinds()).toEqual(['subscribed', 'message', 'message', 'message', 'recovered', 'message', 'message', 'message', 'message']);
    expect(sub.events[4]!.data).toMatchObject({ kind: 'recovered', from: { offset: 3 } });
    expect(sub.errors).toEqual([]);
  });
});
