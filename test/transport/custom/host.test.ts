import { describe, expect, it } from 'vitest';
import type { HubOptions } from 'livehub';
import type { TransportHost } from 'livehub/transport';
import { Peer, perTest } from '../../helpers.js';

const harness = perTest();

/** A hub with a WebSocket peer subscribed to `sensors`, and the host a transport added from outside gets. */
async function start(options: HubOptions = {}) {
  const started = await harness.start(options, { record: true });
  let host: TransportHost | null = null;
  started.hub.addTransport({ name: 'probe', start(given) { host = given; }, stop() {} });
  await expect.poll(() => host).not.toBeNull();
  const peer = await Peer.open(started.url);
  harness.cleanup(() => peer.close());
  await peer.subscribe('sensors');
  return { ...started, host: host! as TransportHost, peer };
}

const device = { identity: { userId: 'meter' }, request: { headers: {}, url: '/', method: 'GET', socket: undefined as never }, clientId: 'node-gone' };

describe('the transport host', () => {
  it('publishes on behalf of a connection that has closed, stamped from it, with its tags, when the channel policy allows it', async () => {
    const { host, peer } = await start({ canPublish: ({ identity, channel }) => identity?.userId === 'meter' && channel === 'sensors' });
    const position = await host.publish('sensors', 'offline', '{"reason":"gone"}', { ...device, tags: { retain: '1' } });
    expect(position).toMatchObject({ offset: 1 });
    expect(await peer.next((m) => m.type === 'offline')).toMatchObject({ data: { reason: 'gone' }, tags: { retain: '1' }, from: { user: 'meter', client: 'node-gone' } });
  });

  it('refuses a publish the channel policy does not allow with code forbidden, logged, and publishes nothing', async () => {
    const { host, peer, hub, logs } = await start({ canPublish: () => false });
    await expect(host.publish('sensors', 'offline', 'null', device)).rejects.toMatchObject({ code: 'forbidden' });
    expect(logs.find((l) => l.code === 'publish_refused')?.message).toMatch(/refused a publish to sensors on behalf of user "meter" \(node-gone\)/);
    await expect(host.publish('sensors', 'offline', 'not json', device)).rejects.toThrow(new TypeError('livehub: host.publish dataJson must be JSON text'));
    await hub.publish('sensors', 'after', null);
    expect(await peer.next((m) => m.channel === 'sensors')).toMatchObject({ type: 'after', offset: 1 });
  });

  it('reads a channel\'s last messages from history, oldest first, with its position', async () => {
    const { host, hub } = await start();
    for (let i = 1; i <= 5; i++) await hub.publish('sensors', 'reading', i, i === 5 ? { tags: { last: 'yes' } } : {});
    const { position, messages, complete } = await host.history('sensors', { limit: 2 });
    expect(complete).toBe(true);
    expect(position.offset).toBe(5);
    expect(messages).toEqual([expect.objectContaining({ data: 4, offset: 4 }), expect.objectContaining({ data: 5, offset: 5, tags: { last: 'yes' } })]);
  });

  it('publishes with exceptSelf to every subscriber but the connection it is stamped from', async () => {
    const { host, peer, url } = await start({ canPublish: () => true });
    const other = await Peer.open(url);
    harness.cleanup(() => other.close());
    await other.subscribe('sensors');
    const clientId = (await new Promise<string>((resolve) => {
      other.send({ type: 'publish', channel: 'sensors', event: 'hello', id: 'p' });
      void peer.next((m) => m.type === 'hello').then((m) => resolve(m.from.client));
    }));
    await host.publish('sensors', 'echo', '1', { ...device, clientId, exceptSelf: true });
    expect(await peer.next((m) => m.type === 'echo')).toMatchObject({ from: { user: 'meter', client: clientId, echo: false } });
    // A sentinel after it: the connection it was stamped from gets that, and not the message.
    await host.publish('sensors', 'sentinel', 'null', device);
    expect((await other.next((m) => m.channel === 'sensors' && m.type !== 'hello')).type).toBe('sentinel');
    await expect(host.publish('sensors', 'echo', '1', { ...device, exceptSelf: 'yes' as never })).rejects.toThrow(new TypeError('livehub: host.publish exceptSelf must be a boolean'));
  });

  it('answers whether the channel policy lets a connection subscribe or publish, logging a refusal with what would let it pass', async () => {
    const { host, logs } = await start({ authorize: ({ action, channel, identity }) => (action === 'subscribe' ? channel !== 'vault' : identity?.userId === 'meter' && channel === 'sensors') });
    expect(await host.authorize('subscribe', 'anything', device)).toBe(true);
    expect(await host.authorize('subscribe', 'vault', device)).toBe(false);
    expect(logs.find((l) => l.code === 'subscribe_refused')?.message).toMatch(/refused a subscribe to vault for user "meter" \(node-gone\)/);
    expect(await host.authorize('publish', 'sensors', device)).toBe(true);
    expect(await host.authorize('publish', 'other', device)).toBe(false);
    expect(logs.find((l) => l.code === 'publish_refused')?.message).toMatch(/refused a publish to other for user "meter" \(node-gone\): the authorize hook did not return true/);
    // The built-in rules come first: another user's personal channel; the hub's own channels are no names for it.
    expect(await host.authorize('subscribe', 'user:ann', device)).toBe(false);
    expect(await host.authorize('subscribe', 'user:meter', device)).toBe(true);
    await expect(host.authorize('subscribe', '#secret', device)).rejects.toThrow(/starts with "#"/);
    await expect(host.authorize('read' as never, 'sensors', device)).rejects.toThrow(new TypeError('livehub: host.authorize action must be \'subscribe\' or \'publish\', got "read"'));
    await expect(host.authorize('subscribe', 'not a channel', device)).rejects.toThrow(TypeError);
  });
});
