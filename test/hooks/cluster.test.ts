import { describe, expect, it } from 'vitest';
import { RedisEngine } from '../../pkg/engine/redis.js';
import { webhooks } from '../../pkg/hooks/index.js';
import { Peer, perTest } from '../helpers.js';
import { sharedRedisUrl } from '../redis.js';
import { startReceiver } from './receiver.js';

const { cleanup, start } = perTest();
const secret = 'a-webhook-secret-of-some-length';

describe('webhooks on two nodes sharing Redis', () => {
  it('send each event once across the cluster: connections by their node, a presence join and leave by one node', async () => {
    const redis = await sharedRedisUrl();
    const prefix = `hooks-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const receiver = await startReceiver();
    cleanup(() => receiver.close());
    const nodes = await Promise.all([0, 1].map(async () => {
      const { hub, url } = await start({
        logger: false, engine: new RedisEngine({ url: redis, prefix }), authorize: () => true,
        authenticate: (req) => ({ userId: new URL(req.url!, 'http://x').searchParams.get('user')! }),
      });
      const hooks = webhooks(hub, { url: receiver.url, secret, flushInterval: 600_000 });
      cleanup(() => hooks.close({ timeout: 0 }));
      return { hub, hooks, url: `${url}?user=ann` };
    }));
    // One user, a connection on each node: she joins the presence channel once and leaves it once.
    const peers: Peer[] = [];
    for (const node of nodes) {
      const peer = await Peer.open(node.url);
      cleanup(() => peer.close());
      peer.send({ type: 'subscribe', channel: 'presence-room' });
      await peer.next((m) => m.type === 'presence');
      peers.push(peer);
    }
    for (const peer of peers) {
      peer.close();
      await expect.poll(() => nodes.reduce((n, node) => n + node.hub.info().clients, 0)).toBe(peers.length - peers.indexOf(peer) - 1);
    }
    const everything = () => Promise.all(nodes.map((node) => node.hooks.flush())).then(() => receiver.events);
    await expect.poll(async () => (await everything()).filter((e) => e.type === 'presence.left').length).toBe(1);

    const events = receiver.events;
    expect(events.filter((e) => e.type === 'presence.joined').map((e) => e.data)).toEqual([{ channel: 'presence-room', userId: 'ann' }]);
    expect(events.filter((e) => e.type === 'presence.left').map((e) => e.data)).toEqual([{ channel: 'presence-room', userId: 'ann' }]);
    for (const node of nodes) {
      const own = events.filter((e) => e.node === node.hub.node && e.type.startsWith('connection.'));
      expect(own.map((e) => e.type)).toEqual(['connection.opened', 'connection.closed']);
    }
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });
});
