import { describe, expect, it } from 'vitest';
import { RedisEngine } from '../../../pkg/engine/redis.js';
import { Peer } from '../../helpers.js';
import { sharedRedisUrl, startRedis } from '../../redis.js';
import { mqttHarness } from './setup.js';

const { harness, start, device } = mqttHarness();
const anyone = { authenticate: () => ({ userId: 'anyone' }), canPublish: () => true };

describe('MQTT through the engine', () => {
  it('an MQTT device on one node and a WebSocket client on another see each other\'s messages through Redis', async () => {
    const url = await sharedRedisUrl();
    const prefix = `mqtt-nodes-${process.pid}-${Date.now()}:`;
    const a = await start({ ...anyone, engine: new RedisEngine({ url, prefix }) });
    const b = await start({ ...anyone, engine: new RedisEngine({ url, prefix }) });
    const peer = await Peer.open(b.url);
    harness.cleanup(() => peer.close());
    await peer.subscribe('plant/line-1');
    const sensor = await device(`mqtt://127.0.0.1:${a.port}`, { protocolVersion: 5 });
    await sensor.client.subscribeAsync('plant/line-1', { qos: 1 });
    await sensor.client.publishAsync('plant/line-1', '{"rpm":1200}', { qos: 1 });
    expect(await peer.next((m) => m.type === 'message')).toMatchObject({ channel: 'plant/line-1', data: { rpm: 1200 }, offset: 1 });
    peer.send({ type: 'publish', channel: 'plant/line-1', event: 'command', data: 'stop', id: 1 });
    expect(await sensor.next((m) => m.payload === '"stop"')).toMatchObject({ topic: 'plant/line-1' });
  });

  it('a device on one node gets the retained message and the will a device on another node left, through Redis', async () => {
    const url = await sharedRedisUrl();
    const prefix = `mqtt-retained-${process.pid}-${Date.now()}:`;
    const a = await start({ ...anyone, engine: new RedisEngine({ url, prefix }) });
    const b = await start({ ...anyone, engine: new RedisEngine({ url, prefix }) });
    const will = { topic: 'status/pump', payload: Buffer.from('{"online":false}'), qos: 1 as const, retain: true };
    const pump = await device(`mqtt://127.0.0.1:${a.port}`, { protocolVersion: 5, will });
    await pump.client.publishAsync('status/pump', '{"online":true}', { qos: 1, retain: true });
    const watcher = await device(`mqtt://127.0.0.1:${b.port}`, { protocolVersion: 4 });
    await watcher.client.subscribeAsync('status/pump', { qos: 1 });
    expect(await watcher.next()).toMatchObject({ payload: '{"online":true}', retain: true });
    pump.client.stream.destroy();
    expect(await watcher.next()).toMatchObject({ payload: '{"online":false}', retain: false });
    const late = await device(`mqtt://127.0.0.1:${b.port}`, { protocolVersion: 5 });
    await late.client.subscribeAsync('status/pump', { qos: 0 });
    expect(await late.next()).toMatchObject({ payload: '{"online":false}', retain: true });
  });

  it('a QoS 1 PUBACK waits for the engine: none while Redis is frozen, then one once it has the message', async () => {
    const redis = await startRedis();
    harness.cleanup(() => redis.stop(), () => redis.signal('SIGCONT'));
    const { port, hub } = await start({ ...anyone, engine: new RedisEngine({ url: redis.url, prefix: 'puback:' }) });
    const sensor = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4 });
    await sensor.client.publishAsync('readings', '1', { qos: 1 }); // the engine's connection is up
    redis.signal('SIGSTOP');
    let acked = false;
    const published = sensor.client.publishAsync('readings', '2', { qos: 1 }).then(() => { acked = true; });
    // The hub has read the PUBLISH (a PINGREQ after it was answered) and no PUBACK came.
    const ponged = new Promise<void>((resolve) => sensor.client.on('packetreceive', (p) => { if (p.cmd === 'pingresp') resolve(); }));
    sensor.client.sendPing();
    await ponged;
    expect(acked).toBe(false);
    redis.signal('SIGCONT');
    await published;
    expect(acked).toBe(true);
    expect((await hub.history('readings')).messages.map((m) => m.data)).toEqual([1, 2]);
  });
});
