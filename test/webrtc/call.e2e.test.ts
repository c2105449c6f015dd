import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEngine } from '../../pkg/engine/redis.js';
import { webrtcSignalling } from '../../pkg/webrtc/index.js';
import { closeServer, perTest } from '../helpers.js';
import { sharedRedisUrl } from '../redis.js';
import { bundles, launchForWebrtc, pageServer } from './browser.js';
import { byQuery } from './peers.js';

/**
 * Pages that join a room through the hub's signalling alone and connect peer to peer: each opens a
 * data channel to every other peer (both at once, so every pair's first offers collide and perfect
 * negotiation resolves them) and sends a greeting on it.
 */

let browser: Browser;
let page: { url: string; close(): Promise<void> };
beforeAll(async () => {
  const [scripts, launched] = await Promise.all([bundles(), launchForWebrtc()]);
  browser = launched;
  const served = await pageServer(scripts);
  page = { url: served.url, close: () => closeServer(served.server) };
}, 120_000);
afterAll(async () => { await browser?.close(); await page?.close(); });

const { start, cleanup } = perTest();
/** The pages' origin, which the hubs let connect. */
const origin = () => new URL(page.url).origin;

/**
 * A page signed in as `user` that joins `room` on the hub at `ws` and greets every peer over a data
 * channel (`politeOnly`: only the peers it is polite to, so the other side has nothing to offer).
 */
async function joinFrom(ws: string, user: string, room: string, politeOnly = false): Promise<Page> {
  const context = await browser.newContext();
  cleanup(() => context.close());
  const tab = await context.newPage();
  await tab.goto(page.url);
  await tab.evaluate(async ({ ws, user, room, politeOnly }) => {
    const w = window as any;
    w.greetings = [];
    w.states = {};
    const client = new w.livehub.LiveClient(`${ws}?user=${user}`);
    await new Promise<void>((resolve) => { if (client.status === 'open') resolve(); else client.events.on('open', () => resolve()); });
    w.call = await w.livehubWebrtc.joinCall(client, room, {
      onPeer: (peer: any) => {
        peer.pc.ondatachannel = ({ channel: theirs }: RTCDataChannelEvent) => { theirs.onmessage = ({ data }) => w.greetings.push(data); };
        peer.pc.onconnectionstatechange = () => { w.states[peer.id] = peer.pc.connectionState; };
        if (politeOnly && !peer.polite) return;
        const channel = peer.pc.createDataChannel('greeting');
        channel.onopen = () => channel.send(`hello from ${user}`);
      },
    });
    w.call.events.on('error', (error: Error) => { w.lastError = String(error); });
  }, { ws, user, room, politeOnly });
  return tab;
}

const greetings = (tab: Page) => tab.evaluate(() => [...(window as any).greetings].sort());

describe('calls in Chromium, signalled through the hub', () => {
  it('connects two pages on two hubs sharing Redis peer to peer, and each gets the other\'s data-channel message', async () => {
    const redis = await sharedRedisUrl();
    const prefix = `webrtc-e2e-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const [one, two] = await Promise.all([0, 1].map(async () => {
      const s = await start({ logger: false, origins: [origin()], authenticate: byQuery, engine: new RedisEngine({ url: redis, prefix }) });
      webrtcSignalling(s.hub);
      return s;
    }));
    const ann = await joinFrom(one!.url, 'ann', 'call');
    const bob = await joinFrom(two!.url, 'bob', 'call');
    await expect.poll(() => greetings(ann), { timeout: 15_000 }).toEqual(['hello from bob']);
    await expect.poll(() => greetings(bob), { timeout: 15_000 }).toEqual(['hello from ann']);
    expect(await ann.evaluate(() => Object.values((window as any).states))).toContain('connected');
  }, 40_000);

  it('connects a pair where only the polite peer adds a data channel: the impolite one offers first with nothing to add', async () => {
    const s = await start({ logger: false, origins: [origin()], authenticate: byQuery });
    webrtcSignalling(s.hub);
    const [ann, bob] = await Promise.all(['ann', 'bob'].map((user) => joinFrom(s.url, user, 'quiet', true)));
    const politeOne = await ann!.evaluate(() => [...(window as any).call.peers.values()][0].polite as boolean);
    const [speaker, listener] = politeOne ? ['ann', bob!] : ['bob', ann!];
    await expect.poll(() => greetings(listener), { timeout: 15_000 }).toEqual([`hello from ${speaker}`]);
    expect(await listener.evaluate(() => (window as any).lastError ?? null)).toBeNull();
  }, 40_000);

  it('connects three pages in one room as a mesh, and a peer that leaves is closed on the others', async () => {
    const s = await start({ logger: false, origins: [origin()], authenticate: byQuery });
    webrtcSignalling(s.hub);
    const tabs = await Promise.all(['ann', 'bob', 'cid'].map((user) => joinFrom(s.url, user, 'mesh')));
    const [ann, bob, cid] = tabs;
    await expect.poll(() => greetings(ann!), { timeout: 15_000 }).toEqual(['hello from bob', 'hello from cid']);
    await expect.poll(() => greetings(bob!), { timeout: 15_000 }).toEqual(['hello from ann', 'hello from cid']);
    await expect.poll(() => greetings(cid!), { timeout: 15_000 }).toEqual(['hello from ann', 'hello from bob']);
    await cid!.evaluate(() => (window as any).call.leave());
    await expect.poll(() => ann!.evaluate(() => (window as any).call.peers.size)).toBe(1);
    expect(await ann!.evaluate(() => (window as any).lastError ?? null)).toBeNull();
  }, 40_000);
});
