import { afterEach, describe, expect, it } from 'vitest';
import { RedisEngine } from '../../pkg/engine/redis.js';
import { StatusFeed } from '../../pkg/observe/status.js';
import { statusChannel, statusPage } from '../../pkg/observe/status-page.js';
import { Peer } from '../helpers.js';
import { sharedRedisUrl } from '../redis.js';
import { observedHubs } from './serve.js';

const start = observedHubs();
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const KEY = 'correct horse battery';

async function peer(url: string): Promise<Peer> {
  const p = await Peer.open(url);
  cleanups.push(() => p.close());
  return p;
}

describe('statusPage', () => {
  it('answers 401 without the key or with a wrong one, and the page with it in the query or the header', async () => {
    const { base } = await start({}, (hub) => ({ '/status': statusPage(hub, { key: KEY }) }));
    for (const url of [`${base}/status`, `${base}/status?key=wrong`, `${base}/status?key=${encodeURIComponent(KEY)}x`]) {
      const response = await fetch(url);
      expect(response.status).toBe(401);
      expect(await response.text()).not.toContain(KEY);
    }
    const viaQuery = await fetch(`${base}/status?key=${encodeURIComponent(KEY)}`);
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(viaQuery.headers.get('referrer-policy')).toBe('no-referrer');
    expect(viaQuery.headers.get('content-security-policy')).toMatch(/script-src 'nonce-[^']+'/);
    const html = await viaQuery.text();
    expect(html).toContain(statusChannel(KEY));
    expect(html).not.toContain(KEY);
    expect((await fetch(`${base}/status`, { headers: { 'X-Livehub-Status-Key': KEY } })).status).toBe(200);
    expect((await fetch(`${base}/status?key=${encodeURIComponent(KEY)}`, { method: 'POST' })).status).toBe(405);
  });

  it('serves the page to anyone when no key is given (development), on the channel livehub-status', async () => {
    const { base } = await start({}, (hub) => ({ '/status': statusPage(hub) }));
    const response = await fetch(`${base}/status`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('"channel":"livehub-status"');
  });

  it('never lets the title break out of the page\'s markup or script', async () => {
    const { base } = await start({}, (h) => ({ '/status': statusPage(h, { title: 'ops</script><img src=x>' }) }));
    const html = await (await fetch(`${base}/status`)).text();
    expect(html).not.toContain('<img');
    expect(html).toContain('<title>ops&#60;/script&#62;&#60;img src=x&#62;</title>');
    expect(html).toContain('"title":"ops\\u003c/script>\\u003cimg src=x>"');
  });

  it('throws a TypeError for unknown or bad options', async () => {
    const { hub } = await start();
    expect(() => statusPage(hub, { kye: KEY } as never)).toThrow(/unknown option 'kye' for statusPage\(\); did you mean 'key'\?/);
    expect(() => statusPage(hub, { key: 'short' })).toThrow(/at least 8 characters/);
    expect(() => statusPage(hub, { websocket: 'ws' })).toThrow(/starting with "\/"/);
    expect(() => statusPage(hub, { interval: 10 })).toThrow(/at least 100 ms/);
  });
});

describe('StatusFeed', () => {
  it('counts publishes, deliveries and top channels of its node, leaving its own channel out', async () => {
    const { hub, url } = await start();
    const feed = new StatusFeed(hub, { interval: 60_000 });
    cleanups.push(() => feed.close());
    const a = await peer(url);
    const b = await peer(url);
    for (const p of [a, b]) await p.subscribe('hot');
    await a.subscribe('cold');
    for (let i = 0; i < 4; i++) await hub.publish('hot', 't', i);
    await hub.publish('cold', 't', 0);
    await hub.publish('livehub-status', 'snapshot', {});
    await a.next((m) => m.channel === 'cold' && m.type === 't');
    await b.next((m) => m.channel === 'hot' && m.data === 3);
    const s = feed.snapshot();
    expect(s).toMatchObject({
      node: hub.node, connections: { websocket: 2 }, channels: 2, subscriptions: 3, engine: 'up', draining: false,
      totals: { published: 5, delivered: 9, evictions: 0, errors: 0 },
    });
    expect(s.top.map((t) => t.channel)).toEqual(['hot', 'cold']);
    expect(s.top[0]!.rate).toBeGreaterThan(s.top[1]!.rate);
  });

  it('shows personal and private channels by their prefix only, unless privateNames allows their names', async () => {
    const { hub } = await start();
    const open = new StatusFeed(hub, { interval: 60_000 });
    const keyed = new StatusFeed(hub, { interval: 60_000, privateNames: true, channel: 'status-keyed' });
    cleanups.push(() => open.close(), () => keyed.close());
    for (const channel of ['user:alice', 'private-payroll', 'presence-board', 'news']) await hub.publish(channel, 't', 1);
    await expect.poll(() => open.snapshot().top.length).toBe(4);
    expect(open.snapshot().top.map((t) => t.channel).sort()).toEqual(['news', 'presence-…', 'private-…', 'user:…']);
    expect(keyed.snapshot().top.map((t) => t.channel).sort()).toEqual(['news', 'presence-board', 'private-payroll', 'user:alice']);
    expect(() => new StatusFeed(hub, { privateNames: 'yes' as never })).toThrow(TypeError);
  });

  it('publishes a last snapshot saying draining when the node drains, then stops', async () => {
    const { hub } = await start();
    const feed = new StatusFeed(hub, { interval: 100 });
    cleanups.push(() => feed.close());
    await expect.poll(async () => (await hub.history('livehub-status')).messages.length).toBeGreaterThan(0);
    await hub.drain({ spread: 0 });
    await expect.poll(async () => (await hub.history('livehub-status')).messages.at(-1)?.data).toMatchObject({ node: hub.node, draining: true });
    const { position } = await hub.history('livehub-status');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await hub.history('livehub-status')).position.offset).toBe(position.offset);
  });

  it('shows every node of a cluster: each node publishes its snapshot through Redis to the status channel', async () => {
    const url = await sharedRedisUrl();
    const prefix = `livehub-status-test-${Math.random().toString(36).slice(2)}:`;
    const engines = [new RedisEngine({ url, prefix }), new RedisEngine({ url, prefix })];
    cleanups.push(() => Promise.all(engines.map((e) => e.close())));
    const one = await start({ engine: engines[0] }, (hub) => ({ '/status': statusPage(hub, { key: KEY, interval: 200 }) }));
    const two = await start({ engine: engines[1] }, (hub) => ({ '/status': statusPage(hub, { key: KEY, interval: 200 }) }));
    cleanups.push(() => Promise.all([one.hub.close(), two.hub.close()]));
    const watcher = await peer(one.url);
    await watcher.subscribe(statusChannel(KEY));
    const seen = new Set<string>();
    while (seen.size < 2) seen.add((await watcher.next((m) => m.type === 'snapshot', 5000)).data.node);
    expect([...seen].sort()).toEqual([one.hub.node, two.hub.node].sort());
  });
});
