import { describe, expect, it } from 'vitest';
import { Peer, perTest, sentinel } from '../helpers.js';

const { start, cleanup } = perTest();

async function open(url: string) {
  const peer = await Peer.open(url);
  cleanup(() => peer.close());
  return peer;
}
const data = (peer: Peer, channel: string) => peer.messages.filter((m) => m.channel === channel && 'data' in m).map((m) => m.data);

describe('per-subscriber filtering', () => {
  it('delivers to a subscription with a tag filter only the publications whose tags match', async () => {
    const { hub, url } = await start({ logger: false });
    const eu = await open(url);
    const all = await open(url);
    eu.send({ type: 'subscribe', channel: 'prices', filter: { region: 'eu' }, id: 1 });
    await eu.next((m) => m.id === 1);
    await all.subscribe('prices');
    await hub.publish('prices', 'tick', 'eu-1', { tags: { region: 'eu' } });
    await hub.publish('prices', 'tick', 'us-1', { tags: { region: 'us' } });
    await hub.publish('prices', 'tick', 'untagged');
    await hub.publish('prices', 'tick', 'eu-2', { tags: { region: 'eu', desk: 'fx' } });
    await expect.poll(() => data(all, 'prices').length).toBe(4);
    await sentinel(hub, 'prices', [eu, all], { tags: { region: 'eu' } });
    expect(data(eu, 'prices')).toEqual(['eu-1', 'eu-2']);
    expect(all.messages.find((m) => m.data === 'eu-1').tags).toEqual({ region: 'eu' });
  });

  it('replays to a resuming filtered subscription only what its filter matches', async () => {
    const { hub, url } = await start({ logger: false });
    await hub.publish('prices', 'tick', 'eu-1', { tags: { region: 'eu' } });
    await hub.publish('prices', 'tick', 'us-1', { tags: { region: 'us' } });
    const { epoch } = await hub.position('prices');
    const eu = await open(url);
    eu.send({ type: 'subscribe', channel: 'prices', filter: { region: 'eu' }, since: { offset: 0, epoch }, id: 1 });
    expect(await eu.next((m) => m.id === 1)).toMatchObject({ type: 'subscribed', recovered: true, offset: 2 });
    await hub.publish('prices', 'tick', 'us-2', { tags: { region: 'us' } });
    await hub.publish('prices', 'tick', 'eu-2', { tags: { region: 'eu' } });
    // Delivered in order: once eu-2 is in, everything before it that was sent is too.
    await expect.poll(() => data(eu, 'prices').at(-1)).toBe('eu-2');
    expect(data(eu, 'prices')).toEqual(['eu-1', 'eu-2']);
  });

  it('answers a malformed filter or tags with a clear error', async () => {
    const { hub, url } = await start({ logger: false });
    const peer = await open(url);
    peer.send({ type: 'subscribe', channel: 'x', filter: { region: 5 }, id: 1 });
    expect(await peer.next((m) => m.id === 1)).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(() => hub.publish('x', 't', 1, { tags: { 'bad key': 'v' } })).toThrow(TypeError);
    expect(() => hub.publish('x', 't', 1, { tagz: {} } as never)).toThrow(/did you mean 'tags'/);
  });

  it('lets an outgoing hook drop or reshape each message per connection', async () => {
    const { hub, url } = await start({ logger: false });
    hub.outgoing((message, ctx) => {
      if ((message.data as { secret?: boolean }).secret && ctx.state.admin !== true) return null;
      return { ...message, data: { ...(message.data as object), seenBy: ctx.id } };
    });
    hub.handle('become-admin', (_message, ctx) => { ctx.state.admin = true; return true; });
    const admin = await open(url);
    const user = await open(url);
    admin.send({ type: 'become-admin', id: 1 });
    await admin.next((m) => m.id === 1);
    await admin.subscribe('ops');
    await user.subscribe('ops');
    await hub.publish('ops', 'note', { text: 'open' });
    await hub.publish('ops', 'note', { text: 'hidden', secret: true });
    await expect.poll(() => data(admin, 'ops').length).toBe(2);
    await sentinel(hub, 'ops', [admin, user]);
    expect(data(user, 'ops')).toEqual([{ text: 'open', seenBy: expect.any(String) }]);
    expect(data(admin, 'ops').map((d) => d.text)).toEqual(['open', 'hidden']);
    expect(data(admin, 'ops')[0].seenBy).not.toBe(data(user, 'ops')[0].seenBy);
  });

  it('runs the outgoing hook on a resuming subscription\'s replay too: what it drops for a connection is not replayed to it', async () => {
    const { hub, url } = await start({ logger: false });
    hub.outgoing((message) => ((message.data as { secret?: boolean }).secret ? null : { ...message, data: { ...(message.data as object), shaped: true } }));
    await hub.publish('ops', 'note', { text: 'open' });
    await hub.publish('ops', 'note', { text: 'hidden', secret: true });
    const { epoch } = await hub.position('ops');
    const peer = await open(url);
    peer.send({ type: 'subscribe', channel: 'ops', since: { offset: 0, epoch }, id: 1 });
    expect(await peer.next((m) => m.id === 1)).toMatchObject({ type: 'subscribed', recovered: true, offset: 2 });
    await hub.publish('ops', 'note', { text: 'later' });
    // Delivered in order: once "later" is in, everything replayed before it is too.
    await expect.poll(() => data(peer, 'ops').at(-1)?.text).toBe('later');
    expect(data(peer, 'ops')).toEqual([{ text: 'open', shaped: true }, { text: 'later', shaped: true }]);
  });
});
