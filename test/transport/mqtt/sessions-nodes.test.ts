import mqtt, { type IClientOptions, type IConnackPacket } from 'mqtt';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { HubOptions } from 'livehub';
import { RedisEngine } from '../../../pkg/engine/redis.js';
import { sharedRedisUrl } from '../../redis.js';
import { mqttHarness, recording, type Device } from './setup.js';

const { harness, start } = mqttHarness();

async function connect(port: number, options: IClientOptions): Promise<{ device: Device; connack: IConnackPacket }> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  harness.cleanup(() => client.endAsync(true));
  const device = recording(client);
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  return { device, connack };
}

const persistent = (protocolVersion: 4 | 5, clientId: string): IClientOptions =>
  protocolVersion === 5 ? { protocolVersion, clientId, clean: false, properties: { sessionExpiryInterval: 600 } } : { protocolVersion, clientId, clean: false };

/** Two hubs sharing Redis under a fresh prefix, and a Redis client to look at what they keep. */
async function twoNodes(mqttOptions: { sessionExpiry?: number } = {}) {
  const url = await sharedRedisUrl();
  const prefix = `mqtt-sessions-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const hub: HubOptions = { authenticate: () => ({ userId: 'anyone' }), canPublish: () => true, history: { size: 500 } };
  const a = await start({ ...hub, engine: new RedisEngine({ url, prefix }) }, mqttOptions);
  const b = await start({ ...hub, engine: new RedisEngine({ url, prefix }) }, mqttOptions);
  const redis = new Redis(url);
  harness.cleanup(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
  return { a, b, stored: (clientId: string) => redis.exists(`${prefix}:rec:mqtt-session:${clientId}`) };
}

describe.each([4, 5] as const)('MQTT %i persistent sessions across nodes', (protocolVersion) => {
  it('resume on another node: the subscriptions come back, and the 200 messages missed arrive once and in order', async () => {
    const { a, b, stored } = await twoNodes();
    const clientId = `meter-${protocolVersion}-${Math.random().toString(36).slice(2)}`;
    const first = await connect(a.port, persistent(protocolVersion, clientId));
    expect(first.connack.sessionPresent).toBe(false);
    await first.device.client.subscribeAsync({ meters: { qos: 1 }, 'alerts/+': { qos: 1 } });
    await a.hub.publish('meters', 'reading', 0);
    expect(await first.device.next()).toMatchObject({ payload: '0' });
    await first.device.client.endAsync();
    await expect.poll(() => stored(clientId)).toBe(1);

    for (let i = 1; i <= 200; i++) await b.hub.publish('meters', 'reading', i);
    const again = await connect(b.port, persistent(protocolVersion, clientId));
    expect(again.connack.sessionPresent).toBe(true);
    expect(await stored(clientId)).toBe(0);
    await a.hub.publish('meters', 'reading', 'after');
    await again.device.next((m) => m.payload === '"after"');
    expect(again.device.received.map((m) => m.payload)).toEqual([...Array.from({ length: 200 }, (_, i) => String(i + 1)), '"after"']);
    // The pattern came back too (live only): a message on a matching channel after the resume arrives.
    await expect.poll(async () => {
      await a.hub.publish('alerts/pump', 'alert', 'hot');
      return again.device.received.some((m) => m.topic === 'alerts/pump');
    }).toBe(true);
  });

  it('end when the device connects with a clean session to another node: nothing is resumed anywhere after', async () => {
    const { a, b, stored } = await twoNodes();
    const clientId = `clean-${protocolVersion}-${Math.random().toString(36).slice(2)}`;
    const first = await connect(a.port, persistent(protocolVersion, clientId));
    await first.device.client.subscribeAsync('meters', { qos: 1 });
    await first.device.client.endAsync();
    await expect.poll(() => stored(clientId)).toBe(1);
    const clean = await connect(b.port, { protocolVersion, clientId, clean: true });
    expect(clean.connack.sessionPresent).toBe(false);
    await expect.poll(() => stored(clientId)).toBe(0);
    await clean.device.client.endAsync();
    const again = await connect(a.port, persistent(protocolVersion, clientId));
    expect(again.connack.sessionPresent).toBe(false);
  });

  it('are not kept in the engine past their expiry: a device back later on another node starts clean', async () => {
    const { a, b, stored } = await twoNodes({ sessionExpiry: 1 });
    const clientId = `short-${protocolVersion}-${Math.random().toString(36).slice(2)}`;
    const first = await connect(a.port, persistent(protocolVersion, clientId));
    await first.device.client.subscribeAsync('meters', { qos: 1 });
    await first.device.client.endAsync();
    await expect.poll(() => stored(clientId)).toBe(1);
    await expect.poll(() => stored(clientId), { timeout: 5000 }).toBe(0);
    const again = await connect(b.port, persistent(protocolVersion, clientId));
    expect(again.connack.sessionPresent).toBe(false);
  });
});
