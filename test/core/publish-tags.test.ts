import { describe, expect, it } from 'vitest';
import { Peer, perTest } from '../helpers.js';

const { start, cleanup } = perTest();

async function open(url: string) {
  const peer = await Peer.open(url);
  cleanup(() => peer.close());
  return peer;
}

describe('a client publish with tags', () => {
  it('carries its tags to subscribers, whose filters match them', async () => {
    const { url } = await start({ logger: false, canPublish: () => true });
    const all = await open(url);
    const alerts = await open(url);
    await all.subscribe('sensors');
    alerts.send({ type: 'subscribe', channel: 'sensors', filter: { level: 'alert' }, id: 's' });
    await alerts.next((m) => m.type === 'subscribed');
    const publisher = await open(url);
    publisher.send({ type: 'publish', channel: 'sensors', event: 'reading', data: 1, id: 1 });
    publisher.send({ type: 'publish', channel: 'sensors', event: 'reading', data: 2, tags: { level: 'alert' }, id: 2 });
    expect(await all.next((m) => m.type === 'reading' && m.data === 1)).not.toHaveProperty('tags');
    expect(await all.next((m) => m.type === 'reading' && m.data === 2)).toMatchObject({ tags: { level: 'alert' } });
    expect(await alerts.next((m) => m.type === 'reading')).toMatchObject({ data: 2, tags: { level: 'alert' } });
  });

  it('is answered bad_request when its tags are not tags, and nothing is published', async () => {
    const { url } = await start({ logger: false, canPublish: () => true });
    const peer = await open(url);
    await peer.subscribe('sensors');
    peer.send({ type: 'publish', channel: 'sensors', event: 'reading', data: 1, tags: { 'not a key': 'x' }, id: 1 });
    expect(await peer.next((m) => m.type === 'error')).toMatchObject({ code: 'bad_request', id: 1, message: expect.stringMatching(/^tags must be/) });
    peer.send({ type: 'publish', channel: 'sensors', event: 'after', data: 2, id: 2 });
    expect(await peer.next((m) => m.channel === 'sensors')).toMatchObject({ type: 'after' });
  });
});
