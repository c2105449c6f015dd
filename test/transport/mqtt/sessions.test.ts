import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket } from 'mqtt';
import { describe, expect, it } from 'vitest';
import type { HubOptions } from 'livehub';
import { mqttHarness, recording, type Device } from './setup.js';

const { harness, start } = mqttHarness();
const anyone: HubOptions = { authenticate: () => ({ userId: 'anyone' }), canPublish: () => true, history: { size: 500 } };

/** An mqtt.js device and the CONNACK it got. */
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

/** The options of a persistent session in each protocol version. */
const persistent = (protocolVersion: 4 | 5, clientId: string, expiry = 600): IClientOptions =>
  protocolVersion === 5 ? { protocolVersion, clientId, clean: false, properties: { sessionExpiryInterval: expiry } } : { protocolVersion, clientId, clean: false };

describe.each([4, 5] as const)('MQTT %i persistent sessions', (protocolVersion) => {
  it('give a device that reconnects with its client id its subscriptions back and every message published while it was away, once and in order', async () => {
    const { port, hub, endpoint } = await start(anyone);
    const first = await connect(port, persistent(protocolVersion, 'meter-1'));
    expect(first.connack.sessionPresent).toBe(false);
    await first.device.client.subscribeAsync('meters', { qos: 1 });
    await hub.publish('meters', 'reading', 0);
    expect(await first.device.next()).toMatchObject({ payload: '0' });
    await first.device.client.endAsync();
    await expect.poll(() => endpoint.storedSessions).toBe(1);

    for (let i = 1; i <= 200; i++) await hub.publish('meters', 'reading', i);
    const again = await connect(port, persistent(protocolVersion, 'meter-1'));
    expect(again.connack.sessionPresent).toBe(true);
    await hub.publish('meters', 'reading', 'after');
    await again.device.next((m) => m.payload === '"after"');
    expect(again.device.received.map((m) => m.payload)).toEqual([...Array.from({ length: 200 }, (_, i) => String(i + 1)), '"after"']);
  });

  it('end when the device connects with a clean session: nothing is resumed and nothing is kept', async () => {
    const { port, hub, endpoint } = await start(anyone);
    const first = await connect(port, persistent(protocolVersion, 'meter-2'));
    await first.device.client.subscribeAsync('meters', { qos: 1 });
    await first.device.client.endAsync();
    await expect.poll(() => endpoint.storedSessions).toBe(1);
    const clean = await connect(port, { protocolVersion, clientId: 'meter-2', clean: true });
    expect(clean.connack.sessionPresent).toBe(false);
    expect(endpoint.storedSessions).toBe(0);
    await clean.device.client.subscribeAsync('other', { qos: 1 });
    await hub.publish('meters', 'reading', 1);
    await hub.publish('other', 'sentinel', 'after');
    await clean.device.next((m) => m.topic === 'other');
    expect(clean.device.received.map((m) => m.topic)).toEqual(['other']);
    await clean.device.client.endAsync();
    await expect.poll(() => endpoint.storedSessions).toBe(0);
  });

  it('are not resumed by another user with the same client id, who starts clean (logged)', async () => {
    const byName: HubOptions = { ...anyone, authenticate: (request) => ({ userId: String(request.headers['x-mqtt-username']) }) };
    const { port, endpoint, logs } = await start(byName, {}, { record: true });
    const alice = await connect(port, { ...persistent(protocolVersion, 'shared-id'), username: 'alice' });
    await alice.device.client.subscribeAsync('meters', { qos: 1 });
    await alice.device.client.endAsync();
    await expect.poll(() => endpoint.storedSessions).toBe(1);
    const mallory = await connect(port, { ...persistent(protocolVersion, 'shared-id'), username: 'mallory' });
    expect(mallory.connack.sessionPresent).toBe(false);
    expect(logs.find((l) => l.code === 'mqtt_session_not_resumed')?.message).toMatch(/belongs to user "alice"/);
  });
});

describe('MQTT persistent sessions, bounded', () => {
  it('send unacknowledged QoS 1 deliveries again with DUP set when the device reconnects, once', async () => {
    const { port, hub, endpoint } = await start(anyone);
    const arrived: IPublishPacket[] = [];
    const first = await connect(port, { ...persistent(5, 'meter-3'), customHandleAcks: () => {} });
    first.device.client.on('packetreceive', (packet) => { if (packet.cmd === 'publish') arrived.push(packet); });
    await first.device.client.subscribeAsync('meters', { qos: 1 });
    await hub.publish('meters', 'reading', 'unacknowledged');
    await expect.poll(() => arrived.length).toBe(1);
    expect(arrived[0]!.dup).toBe(false);
    await first.device.client.endAsync(true);
    await expect.poll(() => endpoint.storedSessions).toBe(1);

    const again = await connect(port, persistent(5, 'meter-3'));
    expect(await again.device.next()).toMatchObject({ payload: '"unacknowledged"' });
    await hub.publish('meters', 'reading', 'after');
    await again.device.next((m) => m.payload === '"after"');
    expect(again.device.received.map((m) => m.payload)).toEqual(['"unacknowledged"', '"after"']);
    expect(again.device.received.map((m) => m.dup)).toEqual([true, false]);
  });

  it('are kept no longer than the endpoint\'s sessionExpiry, which an MQTT 5 CONNACK states when it lowers the device\'s', async () => {
    const { port, endpoint } = await start(anyone, { sessionExpiry: 1 });
    const first = await connect(port, persistent(5, 'meter-4', 600));
    expect(first.connack.properties?.sessionExpiryInterval).toBe(1);
    await first.device.client.subscribeAsync('meters', { qos: 1 });
    await first.device.client.endAsync();
    await expect.poll(() => endpoint.storedSessions).toBe(1);
    await expect.poll(() => endpoint.storedSessions, { timeout: 3000 }).toBe(0);
    const again = await connect(port, persistent(5, 'meter-4', 600));
    expect(again.connack.sessionPresent).toBe(false);
  });

  it('keep at most maxSessions of devices that are away, ending the oldest first (logged)', async () => {
    const { port, endpoint, logs } = await start(anyone, { maxSessions: 1 }, { record: true });
    const away = async (clientId: string) => {
      const { device } = await connect(port, persistent(4, clientId));
      await device.client.subscribeAsync('meters', { qos: 1 });
      await device.client.endAsync();
    };
    await away('old');
    await expect.poll(() => endpoint.storedSessions).toBe(1);
    await away('new');
    await expect.poll(() => logs.find((l) => l.code === 'mqtt_session_dropped')?.message).toMatch(/client "old" was ended before its expiry: more than maxSessions \(1\)/);
    expect(endpoint.storedSessions).toBe(1);
    expect((await connect(port, persistent(4, 'old'))).connack.sessionPresent).toBe(false);
    expect((await connect(port, persistent(4, 'new'))).connack.sessionPresent).toBe(true);
  });

  it('say so when what the device missed is no longer in the channel\'s history, and go on with the newest messages', async () => {
    const { port, hub, endpoint, logs } = await start({ ...anyone, history: { size: 5 } }, {}, { record: true });
    const first = await connect(port, persistent(5, 'meter-5'));
    await first.device.client.subscribeAsync('meters', { qos: 1 });
    await first.device.client.endAsync();
    await expect.poll(() => endpoint.storedSessions).toBe(1);
    for (let i = 1; i <= 20; i++) await hub.publish('meters', 'reading', i);
    const again = await connect(port, persistent(5, 'meter-5'));
    expect(again.connack.sessionPresent).toBe(true);
    await expect.poll(() => logs.find((l) => l.code === 'mqtt_session_gap')?.message).toMatch(/client "meter-5" resumed its session, but the messages of "meters" it missed are no longer all in the channel's history/);
    await hub.publish('meters', 'reading', 'after');
    expect(await again.device.next()).toMatchObject({ payload: '"after"' });
  });

  it('refuse a bad sessionExpiry or maxSessions with a TypeError naming it', async () => {
    const { MqttEndpoint } = await import('livehub/mqtt');
    expect(() => new MqttEndpoint({ sessionExpiry: -1 })).toThrow(new TypeError('livehub: MqttEndpoint sessionExpiry must be a whole number of seconds from 0 to 4294967295'));
    expect(() => new MqttEndpoint({ maxSessions: 1.5 })).toThrow(new TypeError('livehub: MqttEndpoint maxSessions must be a non-negative integer'));
  });
});
