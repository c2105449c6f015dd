import { describe, expect, it } from 'vitest';
import { MemoryEngine } from '../../pkg/engine/memory.js';
import { Hub } from '../../pkg/index.js';
import { Peer, perTest, recordingLogger, sentinel, turn } from '../helpers.js';

const { start, cleanup, hub: newHub } = perTest();

/** A memory engine whose next `failures` publishes reject, as a Redis that refused the script would. */
class FailingEngine extends MemoryEngine {
  failures = 0;
  override publish(...args: Parameters<MemoryEngine['publish']>): ReturnType<MemoryEngine['publish']> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('NOPERM this user has no permissions to run the evalsha command');
    }
    return super.publish(...args);
  }
}

describe('hub.publish', () => {
  it('resolves with the message position, so awaited publishes are ordered', async () => {
    const { hub, url } = await start();
    const reader = await Peer.open(url);
    cleanup(() => reader.close());
    await reader.subscribe('orders');
    const first = await hub.publish('orders', 'created', { n: 1 });
    const second = await hub.publish('orders', 'created', { n: 2 });
    expect(second.offset).toBe(first.offset + 1);
    expect(second.epoch).toBe(first.epoch);
    const got = [await reader.next((m) => m.channel === 'orders'), await reader.next((m) => m.channel === 'orders')];
    expect(got.map((m) => [m.offset, m.data.n])).toEqual([[first.offset, 1], [second.offset, 2]]);
  });

  it('rejects with code unavailable when the engine fails, and logs the cause', async () => {
    const engine = new FailingEngine();
    const { logger, lines } = recordingLogger();
    const { hub } = await start({ engine, logger });
    engine.failures = 1;
    await expect(hub.publish('orders', 'created', 1)).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('NOPERM') });
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', context: expect.objectContaining({ code: 'publish_failed' }) }));
    await expect(hub.publish('orders', 'created', 2)).resolves.toMatchObject({ offset: 1 });
  });

  it('never turns a failure nobody awaits into an unhandled rejection', async () => {
    const engine = new FailingEngine();
    const { logger, lines } = recordingLogger();
    const { hub } = await start({ engine, logger });
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    cleanup(() => process.off('unhandledRejection', listener));
    engine.failures = 3;
    hub.publish('a', 'x', 1);
    hub.sendToUser('alice', 'x', 1);
    hub.sendToUsers(['bob'], 'x', 1);
    // All three tried and failed, and their failures handled: logged, and a turn of the loop later,
    // any rejection nobody handled would have been reported.
    await expect.poll(() => engine.failures === 0 && lines.filter((l) => l.code === 'publish_failed').length > 0).toBe(true);
    await turn();
    expect(unhandled).toEqual([]);
    expect(lines.filter((l) => l.code === 'publish_failed').length).toBeGreaterThan(0);
  });

  it('rejects with code closed once the hub is closing', async () => {
    const hub = new Hub({ logger: false });
    await hub.close();
    await expect(hub.publish('a', 'x', 1)).rejects.toMatchObject({ code: 'closed' });
  });

  it('throws a TypeError naming the allowed characters for a bad channel, and for data JSON cannot encode', () => {
    const hub = newHub({ logger: false });
    expect(() => hub.publish('has space', 'x')).toThrow(/A-Z a-z 0-9 _ - : \. @/);
    expect(() => hub.publish('ok', 'x', { n: 1n })).toThrow(/cannot be encoded as JSON/);
    const cycle: any = {};
    cycle.self = cycle;
    expect(() => hub.publish('ok', 'x', cycle)).toThrow(TypeError);
  });

  it('refuses the hub\'s own channels (a name starting with "#") with a TypeError, as clients and the HTTP API are refused them', async () => {
    const hub = newHub({ logger: false });
    expect(() => hub.publish('#control', 'disconnect-user', { userId: 'alice' })).toThrow(new TypeError('livehub: channel "#control" starts with "#": those channels are the hub\'s own (clients and the HTTP API are refused them too)'));
    await expect(hub.history('#control')).rejects.toThrow(TypeError);
    expect(hub.info().channels).toBe(0);
  });
});

describe('client publishes', () => {
  it('leave the publish id free when the publish failed, so the retry is published once', async () => {
    const engine = new FailingEngine();
    const { hub, url } = await start({ engine, canPublish: () => true, logger: false });
    const reader = await Peer.open(url);
    const writer = await Peer.open(url);
    cleanup(() => reader.close(), () => writer.close());
    await reader.subscribe('orders');
    const publish = { type: 'publish', channel: 'orders', event: 'created', data: 'order-1', id: 'retry-me' };
    engine.failures = 1;
    writer.send(publish);
    expect(await writer.next((m) => m.id === 'retry-me')).toMatchObject({ type: 'error', code: 'unavailable', channel: 'orders' });
    writer.send(publish); // the retry docs/protocol.md asks for
    const ack = await writer.next((m) => m.id === 'retry-me' && m.type === 'ack');
    writer.send(publish); // and a duplicate of the retry
    expect(await writer.next((m) => m.id === 'retry-me' && m.type === 'ack')).toEqual(ack);
    const history = await engine.history('orders', { offset: 0, epoch: ack.epoch });
    expect(history.publications).toHaveLength(1);
    await sentinel(hub, 'orders', [reader]);
    expect(reader.messages.filter((m) => m.channel === 'orders').map((m) => m.data)).toEqual(['order-1']);
  });

  it('carry the publisher as the server stamped it, not as the client claims', async () => {
    const { url } = await start({ canPublish: () => true });
    const reader = await Peer.open(url);
    const writer = await Peer.open(url);
    cleanup(() => reader.close(), () => writer.close());
    await reader.subscribe('room');
    writer.send({ type: 'publish', channel: 'room', event: 'typing', data: { user: 'someone-else' }, from: { user: 'admin' } });
    const got = await reader.next((m) => m.channel === 'room');
    expect(got.from).toEqual({ client: expect.any(String) });
    expect(got.from.user).toBeUndefined();
  });
});
