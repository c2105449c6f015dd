import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { MqttEndpoint } from 'livehub/mqtt';
import { Peer, subscribers } from '../../helpers.js';
import { mqttHarness } from './setup.js';

const { harness, start, device } = mqttHarness();
const anyone = { authenticate: () => ({ userId: 'anyone' }), canPublish: () => true };
const run = promisify(execFile);

/** A raw TCP connection that records every packet it gets, and when it closed. */
async function raw(port: number, version: 4 | 5 = 5) {
  const socket: Socket = connect(port, '127.0.0.1');
  harness.cleanup(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  const packets: Packet[] = [];
  let closed = false;
  const parser = mqttPacket.parser({ protocolVersion: version });
  parser.on('packet', (packet) => packets.push(packet));
  socket.on('data', (chunk) => parser.parse(chunk));
  socket.on('close', () => { closed = true; });
  socket.on('error', () => {});
  const send = (packet: Packet | Buffer) => socket.write(Buffer.isBuffer(packet) ? packet : mqttPacket.generate(packet, { protocolVersion: version }));
  const connected = async (keepalive = 0) => {
    send({ cmd: 'connect', protocolVersion: version, clientId: `raw-${Math.random()}`, clean: true, keepalive });
    await expect.poll(() => packets.find((p) => p.cmd === 'connack')).toBeDefined();
  };
  return { socket, packets, send, connected, isClosed: () => closed };
}

describe('MQTT input livehub refuses', () => {
  it('closes a connection that sends no CONNECT within connectTimeout, and logs it', async () => {
    const { port, logs } = await start({}, { connectTimeout: 200 }, { record: true });
    const client = await raw(port);
    await expect.poll(client.isClosed).toBe(true);
    expect(logs.find((l) => l.code === 'mqtt_connect_timeout')?.message).toMatch(/sent no CONNECT within connectTimeout \(200 ms\)/);
  });

  it('closes a connection whose first packet is not a CONNECT', async () => {
    const { port } = await start();
    const client = await raw(port);
    client.send({ cmd: 'pingreq' });
    await expect.poll(client.isClosed).toBe(true);
    expect(client.packets).toEqual([]);
  });

  it('answers an unknown protocol level with CONNACK return code 1', async () => {
    const { port } = await start();
    const client = await raw(port, 4);
    const connect = mqttPacket.generate({ cmd: 'connect', protocolVersion: 4, clientId: 'old', clean: true, keepalive: 0 });
    connect[8] = 9; // the protocol level byte: 9 is no MQTT
    client.send(connect);
    await expect.poll(() => client.packets[0]).toMatchObject({ cmd: 'connack', returnCode: 1 });
    await expect.poll(client.isClosed).toBe(true);
  });

  it('refuses a packet over maxPacketSize (DISCONNECT 0x95) before reading it, while a canary subscriber loses nothing', async () => {
    const { port, hub, logs } = await start(anyone, { maxPacketSize: 1024 }, { record: true });
    const canary = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4 });
    await canary.client.subscribeAsync('room', { qos: 1 });
    const client = await raw(port);
    await client.connected();
    await hub.publish('room', 'message', 1);
    client.send({ cmd: 'publish', topic: 'room', payload: Buffer.alloc(2048, 'x'), qos: 0, dup: false, retain: false });
    await expect.poll(() => client.packets.find((p) => p.cmd === 'disconnect')).toMatchObject({ reasonCode: 0x95 });
    await expect.poll(client.isClosed).toBe(true);
    await hub.publish('room', 'message', 2);
    await canary.next((m) => m.payload === '2');
    expect(canary.received.map((m) => m.payload)).toEqual(['1', '2']);
    expect(logs.find((l) => l.code === 'mqtt_bad_packet')?.message).toMatch(/a packet of 20\d\d bytes, over the limit of 1024/);
  });

  it('closes a connection on a malformed packet: a remaining length of five bytes, or one shorter than the packet', async () => {
    const { port } = await start(anyone);
    const long = await raw(port);
    await long.connected();
    long.send(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await expect.poll(() => long.packets.find((p) => p.cmd === 'disconnect')).toMatchObject({ reasonCode: 0x81 });
    await expect.poll(long.isClosed).toBe(true);
    const short = await raw(port, 4);
    await short.connected();
    const publish = mqttPacket.generate({ cmd: 'publish', topic: 'room', payload: 'hello', qos: 1, messageId: 1, dup: false, retain: false });
    publish[1] = 3; // the topic's length and one byte of it: the rest reads as a packet of type 6 with nonsense
    short.send(publish);
    await expect.poll(short.isClosed).toBe(true);
    expect(short.packets.filter((p) => p.cmd === 'puback')).toEqual([]);
  });

  it('closes an MQTT 5 device that publishes at QoS 2 with reason 0x9B (its CONNACK said maximum QoS 1)', async () => {
    const { port } = await start(anyone);
    const client = await raw(port);
    await client.connected();
    expect(client.packets[0]).toMatchObject({ cmd: 'connack', properties: { maximumQoS: 1, retainAvailable: true } });
    client.send({ cmd: 'publish', topic: 'room', payload: 'x', qos: 2, messageId: 7, dup: false, retain: false });
    await expect.poll(() => client.packets.find((p) => p.cmd === 'disconnect')).toMatchObject({ reasonCode: 0x9b });
  });

  it('closes a device that floods past the inbound rate limit with DISCONNECT 0x96, and logs it', async () => {
    const { port, logs } = await start({ ...anyone, rateLimit: 5, rateLimitBurst: 5 }, {}, { record: true });
    const client = await raw(port);
    await client.connected();
    for (let i = 0; i < 20; i++) client.send({ cmd: 'publish', topic: 'room', payload: String(i), qos: 0, dup: false, retain: false });
    await expect.poll(() => client.packets.find((p) => p.cmd === 'disconnect')).toMatchObject({ reasonCode: 0x96 });
    await expect.poll(client.isClosed).toBe(true);
    expect(logs.find((l) => l.code === 'mqtt_refused')?.message).toMatch(/rate_limited/);
  });

  it('closes a device silent for one and a half keepalives', async () => {
    const { port } = await start(anyone);
    const client = await raw(port, 4);
    await client.connected(1);
    const since = Date.now();
    await expect.poll(client.isClosed, { timeout: 4000 }).toBe(true);
    expect(Date.now() - since).toBeGreaterThanOrEqual(1400);
  });

  it('takes a session over from an older connection with the same client id (DISCONNECT 0x8E)', async () => {
    const { port, hub } = await start(anyone);
    const first = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'meter-7' });
    const reason = new Promise<number | undefined>((resolve) => first.client.once('disconnect', (p) => resolve(p.reasonCode)));
    await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'meter-7' });
    expect(await reason).toBe(0x8e);
    await expect.poll(() => hub.info().connections.mqtt).toBe(1);
  });

  it('refuses an unknown option with a TypeError', () => {
    expect(() => new MqttEndpoint({ prot: 1883 } as never)).toThrow(TypeError);
    expect(() => new MqttEndpoint({ port: -1 })).toThrow(TypeError);
  });
});

describe('MQTT clients nobody here wrote', () => {
  it('mosquitto_sub gets what a WebSocket client publishes, and a WebSocket client gets what mosquitto_pub publishes', async () => {
    const { url, port, hub } = await start(anyone);
    const peer = await Peer.open(url);
    harness.cleanup(() => peer.close());
    await peer.subscribe('lab/door');
    const sub = run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv5', '-t', 'lab/door', '-C', '1', '-W', '5', '-F', '%t %p %P']);
    await expect.poll(() => subscribers(hub, 'lab/door')).toBe(2);
    peer.send({ type: 'publish', channel: 'lab/door', event: 'opened', data: { by: 'ws' } });
    expect((await sub).stdout.trim()).toMatch(/^lab\/door \{"by":"ws"\} type:opened from\.user:anyone from\.client:\S+$/);
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311', '-t', 'lab/door', '-q', '1', '-m', '{"by":"mosquitto"}']);
    expect(await peer.next((m) => m.type === 'message')).toMatchObject({ channel: 'lab/door', data: { by: 'mosquitto' } });
  });
});

describe('MQTT 5 receive maximum', () => {
  it('keeps at most the device\'s receive maximum of QoS 1 deliveries unacknowledged, the rest following each PUBACK in order', async () => {
    const { port, hub } = await start(anyone);
    const client = await raw(port);
    client.send({ cmd: 'connect', protocolVersion: 5, clientId: 'slow-reader', clean: true, keepalive: 0, properties: { receiveMaximum: 1 } });
    await expect.poll(() => client.packets.find((p) => p.cmd === 'connack')).toBeDefined();
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'feed', qos: 1 }, { topic: 'feed-sentinel', qos: 0 }] });
    await expect.poll(() => client.packets.find((p) => p.cmd === 'suback')).toMatchObject({ granted: [1, 0] });
    for (let i = 1; i <= 3; i++) await hub.publish('feed', 'message', i);
    const publishes = () => client.packets.filter((p) => p.cmd === 'publish') as Array<Packet & { topic: string; payload: Buffer; messageId: number }>;
    const feed = () => publishes().filter((p) => p.topic === 'feed');
    await expect.poll(() => feed().length).toBe(1);
    // A sentinel on a QoS 0 channel, published after the three: once it is here, the rest are held.
    await hub.publish('feed-sentinel', 'message', 'after');
    await expect.poll(() => publishes().some((p) => p.topic === 'feed-sentinel')).toBe(true);
    expect(publishes().filter((p) => p.topic === 'feed').length).toBe(1);
    for (let i = 0; i < 2; i++) {
      client.send({ cmd: 'puback', messageId: feed()[i]!.messageId });
      await expect.poll(() => feed().length).toBe(i + 2);
    }
    expect(feed().map((p) => p.payload.toString())).toEqual(['1', '2', '3']);
  });
});

describe('MQTT in-flight deliveries', () => {
  it('keeps at most maxInflight QoS 1 deliveries unacknowledged for a device that announces no receive maximum', async () => {
    const { port, hub } = await start(anyone, { maxInflight: 2 });
    const client = await raw(port, 4);
    await client.connected();
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'feed', qos: 1 }, { topic: 'feed-sentinel', qos: 0 }] });
    await expect.poll(() => client.packets.find((p) => p.cmd === 'suback')).toBeDefined();
    for (let i = 1; i <= 5; i++) await hub.publish('feed', 'message', i);
    const feed = () => client.packets.filter((p) => p.cmd === 'publish' && p.topic === 'feed') as Array<Packet & { payload: Buffer; messageId: number }>;
    await hub.publish('feed-sentinel', 'message', 'after');
    await expect.poll(() => client.packets.some((p) => p.cmd === 'publish' && p.topic === 'feed-sentinel')).toBe(true);
    expect(feed().map((p) => p.payload.toString())).toEqual(['1', '2']);
    client.send({ cmd: 'puback', messageId: feed()[0]!.messageId });
    await expect.poll(() => feed().length).toBe(3);
    expect(feed().map((p) => p.payload.toString())).toEqual(['1', '2', '3']);
  });

  it('closes a device whose QoS 1 pattern subscription has more than sendBuffer deliveries waiting behind its in-flight ones (a pattern has no history to catch up from), and logs it', async () => {
    const { port, hub, logs } = await start({ ...anyone, sendBuffer: 4 }, { maxInflight: 2 }, { record: true });
    const client = await raw(port, 4);
    await client.connected();
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'feed/+', qos: 1 }] });
    await expect.poll(() => client.packets.find((p) => p.cmd === 'suback')).toBeDefined();
    const canary = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
    await canary.client.subscribeAsync('feed/a', { qos: 1 });
    // One at a time, each seen by the canary (it acknowledges): only the silent device falls behind.
    for (let i = 1; i <= 8; i++) {
      await hub.publish('feed/a', 'message', i);
      await expect.poll(() => canary.received.length).toBe(i);
    }
    await expect.poll(client.isClosed).toBe(true);
    expect(client.packets.filter((p) => p.cmd === 'publish')).toHaveLength(2);
    expect(logs.find((l) => l.code === 'mqtt_slow_consumer')?.message).toMatch(/slow consumer: more than sendBuffer \(4\) QoS 1 messages waited beyond its receive maximum \(2\)/);
  });

  it('refuses a maxInflight that is not a whole number from 1 to 65535', () => {
    for (const maxInflight of [0, 1.5, 70_000, '10']) {
      expect(() => new MqttEndpoint({ maxInflight } as never)).toThrow(new TypeError('livehub: MqttEndpoint maxInflight must be a whole number from 1 to 65535'));
    }
  });
});
