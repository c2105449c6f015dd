import { connect, type Socket } from 'node:net';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { HubOptions } from 'livehub';
import { mqttHarness } from './setup.js';

const { harness, start } = mqttHarness();
const anyone: HubOptions = { authenticate: () => ({ userId: 'anyone' }), canPublish: () => true };

/** A raw MQTT connection that records the packets it gets; `receiveMaximum` for MQTT 5, `clean` false for a persistent session. */
async function raw(port: number, version: 4 | 5, clientId: string, receiveMaximum?: number, clean = true) {
  const socket: Socket = connect(port, '127.0.0.1');
  harness.cleanup(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.setNoDelay(true);
  socket.on('error', () => {});
  const packets: Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: version });
  parser.on('packet', (packet) => packets.push(packet));
  socket.on('data', (chunk) => parser.parse(chunk));
  const send = (packet: Packet | Buffer) => new Promise<void>((resolve) => {
    socket.write(Buffer.isBuffer(packet) ? packet : mqttPacket.generate(packet, { protocolVersion: version }), () => resolve());
  });
  const properties = { ...(receiveMaximum ? { receiveMaximum } : {}), ...(version === 5 && !clean ? { sessionExpiryInterval: 600 } : {}) };
  await send({ cmd: 'connect', protocolVersion: version, clientId, clean, keepalive: 0, ...(version === 5 ? { properties } : {}) });
  await expect.poll(() => packets.find((p) => p.cmd === 'connack')).toBeDefined();
  const subscribe = async (topics: Array<[string, 0 | 1]>) => {
    await send({ cmd: 'subscribe', messageId: 1, subscriptions: topics.map(([topic, qos]) => ({ topic, qos })) });
    await expect.poll(() => packets.find((p) => p.cmd === 'suback')).toBeDefined();
  };
  /** The PUBLISHes on a topic, in order. */
  const on = (topic: string) => packets.filter((p): p is IPublishPacket => p.cmd === 'publish' && p.topic === topic);
  return { socket, packets, send, subscribe, on };
}

const body = (p: IPublishPacket) => p.payload.toString();

describe('MQTT QoS 1 deliveries', () => {
  it('give every device the same packets of a channel\'s messages, each with packet identifiers of its own', async () => {
    const { port, hub } = await start(anyone);
    const a = await raw(port, 4, 'a');
    const b = await raw(port, 5, 'b');
    const c = await raw(port, 4, 'c');
    await a.subscribe([['feed', 1]]);
    await b.subscribe([['feed', 1]]);
    await c.subscribe([['feed', 1], ['other', 1]]);
    // c has one delivery in flight before the feed's: its identifiers for them come after it.
    await hub.publish('other', 'message', 'first');
    await expect.poll(() => c.on('other').length).toBe(1);
    await Promise.all([1, 2, 3].map((n) => hub.publish('feed', 'reading', { n })));
    for (const device of [a, b, c]) await expect.poll(() => device.on('feed').length).toBe(3);

    for (const device of [a, b, c]) {
      expect(device.on('feed').map((p) => [p.qos, p.dup, p.retain])).toEqual([[1, false, false], [1, false, false], [1, false, false]]);
      expect(device.on('feed').map(body).sort()).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
    }
    expect(b.on('feed').map(body)).toEqual(a.on('feed').map(body));
    expect(c.on('feed').map(body)).toEqual(a.on('feed').map(body));
    expect(a.on('feed').map((p) => p.messageId)).toEqual([1, 2, 3]);
    expect(b.on('feed').map((p) => p.messageId)).toEqual([1, 2, 3]);
    expect(c.on('other').map((p) => p.messageId)).toEqual([1]);
    expect(c.on('feed').map((p) => p.messageId)).toEqual([2, 3, 4]);
    // MQTT 5 devices get the message's properties with the packet; MQTT 3.1.1 ones have none.
    for (const p of b.on('feed')) expect(p.properties).toMatchObject({ payloadFormatIndicator: true, contentType: 'application/json', userProperties: { type: 'reading' } });
    for (const p of a.on('feed')) expect(p.properties).toBeUndefined();
  });

  it('let the PUBACKs of one read through together: the deliveries that waited follow in order, with fresh identifiers', async () => {
    const { port, hub } = await start(anyone);
    const device = await raw(port, 5, 'acks-together', 2);
    await device.subscribe([['feed', 1], ['feed-sentinel', 0]]);
    for (let n = 1; n <= 5; n++) await hub.publish('feed', 'message', n);
    await hub.publish('feed-sentinel', 'message', 'after');
    await expect.poll(() => device.on('feed-sentinel').length).toBe(1);
    expect(device.on('feed').map(body)).toEqual(['1', '2']);

    // Both PUBACKs in one write: the room they make is filled at once.
    const acks = (from: number, to: number) => Buffer.concat(device.on('feed').slice(from, to).map((p) => mqttPacket.generate({ cmd: 'puback', messageId: p.messageId }, { protocolVersion: 4 })));
    await device.send(acks(0, 2));
    await expect.poll(() => device.on('feed').length).toBe(4);
    await device.send(acks(2, 4));
    await expect.poll(() => device.on('feed').length).toBe(5);
    expect(device.on('feed').map(body)).toEqual(['1', '2', '3', '4', '5']);
    expect(device.on('feed').map((p) => p.messageId)).toEqual([1, 2, 3, 4, 5]);
    expect(device.on('feed').every((p) => !p.dup)).toBe(true);
  });

  it('take a PUBACK split across TCP writes', async () => {
    const { port, hub } = await start(anyone);
    const device = await raw(port, 5, 'split-ack', 1);
    await device.subscribe([['feed', 1]]);
    await hub.publish('feed', 'message', 1);
    await hub.publish('feed', 'message', 2);
    await expect.poll(() => device.on('feed').length).toBe(1);
    const id = device.on('feed')[0]!.messageId!;
    await device.send(Buffer.from([0x40]));
    await device.send(Buffer.from([0x02, id >> 8]));
    await device.send(Buffer.from([id & 0xff]));
    await expect.poll(() => device.on('feed').length).toBe(2);
    expect(device.on('feed').map(body)).toEqual(['1', '2']);
  });

  it('send a delivery a PUBACK let through after the deliveries the hub still had queued for a full socket', async () => {
    const { port, hub, endpoint } = await start({ ...anyone, highWaterMark: 1024, maxBufferedBytes: 1 << 28, writeWait: 60_000, sendBuffer: 10_000 });
    const device = await raw(port, 5, 'full-socket', 2);
    await device.subscribe([['feed', 1], ['filler', 0]]);
    await hub.publish('feed', 'message', 0);
    await expect.poll(() => device.on('feed').length).toBe(1);
    const connection = endpoint.clients.get('full-socket')!;

    // The device stops reading: the socket's buffers fill, and the hub queues what follows.
    device.socket.pause();
    const filler = 'x'.repeat(60_000);
    for (let i = 0; i < 1000 && connection.socket.writableLength < 1024; i++) {
      await hub.publish('filler', 'message', filler);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(connection.socket.writableLength).toBeGreaterThanOrEqual(1024);
    await hub.publish('feed', 'message', 1); // in flight (the second of two), queued by the hub
    await hub.publish('feed', 'message', 2); // waits for room
    await expect.poll(() => connection.state.held.length).toBe(1);
    expect(connection.state.inflight.size).toBe(2);

    // The device acknowledges the first: the third goes out, but after the second, still queued.
    await device.send(mqttPacket.generate({ cmd: 'puback', messageId: device.on('feed')[0]!.messageId }, { protocolVersion: 5 }));
    await expect.poll(() => connection.state.held.length).toBe(0);
    device.socket.resume();
    await expect.poll(() => device.on('feed').length, { timeout: 10_000 }).toBe(3);
    expect(device.on('feed').map(body)).toEqual(['0', '1', '2']);
  });

  it.each([4, 5] as const)('sent again to a resumed MQTT %i session carry their own packet identifiers, with DUP set', async (version) => {
    const { port, hub, endpoint } = await start({ ...anyone, history: { size: 100 } });
    const first = await raw(port, version, `resumed-${version}`, undefined, false);
    await first.subscribe([['feed', 1]]);
    await Promise.all([1, 2, 3].map((n) => hub.publish('feed', 'message', n)));
    await expect.poll(() => first.on('feed').length).toBe(3);
    first.socket.destroy();
    await expect.poll(() => endpoint.storedSessions).toBe(1);

    const again = await raw(port, version, `resumed-${version}`, undefined, false);
    await expect.poll(() => again.on('feed').length).toBe(3);
    expect(again.on('feed').map((p) => [body(p), p.messageId, p.dup])).toEqual(first.on('feed').map((p) => [body(p), p.messageId, true]));
    expect(again.on('feed').map((p) => p.messageId)).toEqual([1, 2, 3]);
    for (const p of again.on('feed')) await again.send({ cmd: 'puback', messageId: p.messageId });
    await hub.publish('feed', 'message', 4);
    await expect.poll(() => again.on('feed').length).toBe(4);
    expect(again.on('feed')[3]).toMatchObject({ messageId: 4, dup: false, payload: Buffer.from('4') });
  });
});
