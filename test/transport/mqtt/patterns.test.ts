import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { RedisEngine } from '../../../pkg/engine/redis.js';
import { Peer } from '../../helpers.js';
import { sharedRedisUrl } from '../../redis.js';
import { mqttHarness } from './setup.js';

const { harness, start, device } = mqttHarness();
const anyone = { authenticate: () => ({ userId: 'anyone' }), canPublish: () => true };
const run = promisify(execFile);

async function peer(url: string): Promise<Peer> {
  const p = await Peer.open(url);
  harness.cleanup(() => p.close());
  return p;
}

/** A raw MQTT connection (mqtt.js and mosquitto refuse malformed filters before sending them). */
async function raw(port: number, version: 4 | 5) {
  const socket: Socket = connect(port, '127.0.0.1');
  harness.cleanup(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  const packets: Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: version });
  parser.on('packet', (packet) => packets.push(packet));
  socket.on('data', (chunk) => parser.parse(chunk));
  socket.on('error', () => {});
  const send = (packet: Packet) => socket.write(mqttPacket.generate(packet, { protocolVersion: version }));
  send({ cmd: 'connect', protocolVersion: version, clientId: `raw-${Math.random()}`, clean: true, keepalive: 0 });
  await expect.poll(() => packets.find((p) => p.cmd === 'connack')).toBeDefined();
  return { packets, send };
}

describe.each([4, 5] as const)('MQTT %s wildcard subscriptions', (protocolVersion) => {
  it('deliver what pages publish on every channel the filter matches, on its own topic, at the granted QoS', async () => {
    const { port, url } = await start(anyone);
    const sensor = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion });
    expect(await sensor.suback({ 'sensors/+/temp': { qos: 1 }, 'plant/#': { qos: 0 } })).toEqual([1, 0]);
    const qos: number[] = [];
    sensor.client.on('packetreceive', (p) => { if (p.cmd === 'publish') qos.push(p.qos); });
    const page = await peer(url);
    for (const [channel, data] of [['sensors/kitchen/temp', 21], ['sensors/kitchen/light', 1], ['plant', 'root'], ['plant/line-1/rpm', 1200], ['sensors/a+b/temp', 5]] as const) {
      page.send({ type: 'publish', channel, event: 'reading', data, id: channel });
      await page.next((m) => m.id === channel);
    }
    await sensor.next((m) => m.topic === 'sensors/a%2Bb/temp');
    expect(sensor.received.map((m) => [m.topic, m.payload])).toEqual([
      ['sensors/kitchen/temp', '21'], ['plant', '"root"'], ['plant/line-1/rpm', '1200'], ['sensors/a%2Bb/temp', '5'],
    ]);
    expect(qos).toEqual([1, 0, 0, 1]);
  });

  it('stop after UNSUBSCRIBE, proven by a later message on a channel still subscribed', async () => {
    const { port, hub } = await start(anyone);
    const sensor = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion });
    await sensor.client.subscribeAsync({ 'news/#': { qos: 0 }, sentinel: { qos: 0 } });
    await hub.publish('news/a', 'x', 1);
    await sensor.next((m) => m.topic === 'news/a');
    await sensor.client.unsubscribeAsync('news/#');
    await hub.publish('news/a', 'x', 2);
    await hub.publish('sentinel', 'x', 'end');
    await sensor.next((m) => m.topic === 'sentinel');
    expect(sensor.received.filter((m) => m.topic === 'news/a').map((m) => m.payload)).toEqual(['1']);
  });

  it('refuse malformed filters and patterns beyond maxPatternsPerClient in the SUBACK, and grant the others', async () => {
    const { port } = await start({ ...anyone, maxPatternsPerClient: 2 });
    const client = await raw(port, protocolVersion);
    const topics = ['a/#/b', 'a/b+/c', 'a#', 'ok/+', 'ok/#', 'more/+', 'plain'];
    client.send({ cmd: 'subscribe', messageId: 7, subscriptions: topics.map((topic) => ({ topic, qos: 0 })) } as Packet);
    const suback = await expect.poll(() => client.packets.find((p) => p.cmd === 'suback')).toBeDefined().then(() => client.packets.find((p) => p.cmd === 'suback') as Packet & { granted: number[] });
    expect(suback.granted).toEqual(protocolVersion === 5 ? [0x8f, 0x8f, 0x8f, 0, 0, 0x97, 0] : [0x80, 0x80, 0x80, 0, 0, 0x80, 0]);
  });
});

describe('MQTT patterns with other clients', () => {
  it('a WebSocket pattern subscriber gets what a device publishes, with its channel', async () => {
    const { port, url } = await start(anyone);
    const page = await peer(url);
    page.send({ type: 'subscribe', pattern: 'sensors/+/temp', id: 1 });
    await page.next((m) => m.id === 1);
    const sensor = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
    await sensor.client.publishAsync('sensors/hall/temp', '{"c":19}', { qos: 1 });
    expect(await page.next((m) => m.type === 'message')).toMatchObject({ channel: 'sensors/hall/temp', data: { c: 19 } });
  });

  it('mosquitto_sub on a wildcard filter gets what mosquitto_pub publishes on a matching topic', async () => {
    const { port } = await start(anyone);
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311', '-t', 'lab/+/door', '-C', '1', '-W', '20', '-F', 'GOT %t %p']);
    harness.cleanup(() => sub.kill());
    let out = '';
    let exited = false;
    sub.stdout.on('data', (chunk) => { out += String(chunk); });
    sub.on('exit', () => { exited = true; });
    // mosquitto_sub says nothing until it exits: publish until the one message it waits for reached it.
    await expect.poll(async () => {
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv5', '-t', 'lab/west/door', '-q', '1', '-m', '{"open":true}']);
      return exited;
    }, { timeout: 15_000, interval: 200 }).toBe(true);
    await expect.poll(() => out).toBe('GOT lab/west/door {"open":true}\n');
  });

  it('a device on one node gets, through its wildcard filter, what a page on another node publishes through Redis, and the page\'s pattern gets the device\'s', async () => {
    const url = await sharedRedisUrl();
    const prefix = `mqtt-patterns-${process.pid}-${Date.now()}`;
    const a = await start({ ...anyone, engine: new RedisEngine({ url, prefix }) });
    const b = await start({ ...anyone, engine: new RedisEngine({ url, prefix }) });
    const sensor = await device(`mqtt://127.0.0.1:${a.port}`, { protocolVersion: 5 });
    await sensor.client.subscribeAsync('plant/+/command', { qos: 1 });
    const page = await peer(b.url);
    page.send({ type: 'subscribe', pattern: 'plant/#', id: 1 });
    await page.next((m) => m.id === 1);
    page.send({ type: 'publish', channel: 'plant/line-1/command', event: 'command', data: 'stop', id: 2 });
    expect(await sensor.next()).toMatchObject({ topic: 'plant/line-1/command', payload: '"stop"' });
    await sensor.client.publishAsync('plant/line-1/rpm', '900', { qos: 1 });
    expect(await page.next((m) => m.type === 'message' && m.channel === 'plant/line-1/rpm')).toMatchObject({ data: 900 });
  });
});
