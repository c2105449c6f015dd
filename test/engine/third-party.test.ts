import { afterEach, describe, expect, it } from 'vitest';
import { engineConformance } from 'livehub/engine';
import { Peer, perTest } from '../helpers.js';
import { TinyEngine } from './tiny-engine.js';

engineConformance('TinyEngine, built from livehub/engine alone', { describe, it, afterEach }, { make: () => ({ engine: new TinyEngine() }) });

const { start, cleanup } = perTest();

async function open(url: string, headers: Record<string, string> = {}) {
  const peer = await Peer.open(url, { headers });
  cleanup(() => peer.close());
  return peer;
}
const messages = (peer: Peer, channel: string) => peer.messages.filter((m) => m.channel === channel && 'data' in m);

describe('a hub on an engine built from the public exports alone', () => {
  it('delivers a tagged publication to the subscriber whose filter matches, with the same JSON as any engine', async () => {
    const { hub, url } = await start({ logger: false, engine: new TinyEngine() });
    const eu = await open(url);
    const us = await open(url);
    eu.send({ type: 'subscribe', channel: 'prices', filter: { region: 'eu' }, id: 1 });
    us.send({ type: 'subscribe', channel: 'prices', filter: { region: 'us' }, id: 1 });
    await eu.next((m) => m.id === 1);
    await us.next((m) => m.id === 1);
    await hub.publish('prices', 'tick', { p: 1 }, { tags: { region: 'eu' } });
    await hub.publish('prices', 'tick', { p: 2 }, { tags: { region: 'us' } });
    await expect.poll(() => messages(us, 'prices').length).toBe(1);
    await expect.poll(() => messages(eu, 'prices').length).toBe(1);
    expect(messages(eu, 'prices')).toEqual([{ channel: 'prices', type: 'tick', data: { p: 1 }, offset: 1, tags: { region: 'eu' } }]);
    expect(messages(us, 'prices').map((m) => m.data)).toEqual([{ p: 2 }]);
  });

  it('keeps a client publish with exceptSelf from its sender and gives it to everyone else', async () => {
    const { url } = await start({ logger: false, engine: new TinyEngine(), canPublish: () => true });
    const sender = await open(url);
    const other = await open(url);
    await sender.subscribe('room');
    await other.subscribe('room');
    sender.send({ type: 'publish', channel: 'room', event: 'typing', data: 'quiet', exceptSelf: true, id: 'a' });
    sender.send({ type: 'publish', channel: 'room', event: 'said', data: 'loud', id: 'b' });
    await expect.poll(() => messages(other, 'room').map((m) => m.data)).toEqual(['quiet', 'loud']);
    await expect.poll(() => messages(sender, 'room').map((m) => m.data)).toEqual(['loud']);
    expect(messages(other, 'room')[0].from).toEqual({ client: expect.any(String), echo: false });
  });

  it('closes every connection of a user with 4503 through its node messages', async () => {
    const { hub, url } = await start({ logger: false, engine: new TinyEngine(), authenticate: (req) => ({ userId: String(req.headers['x-user']) }) });
    const ann = await open(url, { 'x-user': 'ann' });
    const bob = await open(url, { 'x-user': 'bob' });
    await hub.disconnectUser('ann', 'bye');
    expect(await ann.whenClosed()).toEqual({ code: 4503, reason: 'bye' });
    expect(bob.closed).toBeNull();
  });
});
