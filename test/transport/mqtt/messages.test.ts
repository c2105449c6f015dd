import { describe, expect, it } from 'vitest';
import type { HubOptions } from 'livehub';
import { Peer, sentinel } from '../../helpers.js';
import { mqttHarness } from './setup.js';

const { harness, start, device } = mqttHarness();
const anyone: HubOptions = { authenticate: (request) => ({ userId: String(request.headers['x-mqtt-username'] ?? 'page') }), canPublish: () => true };

async function page(url: string, channel: string, filter?: Record<string, string>) {
  const peer = await Peer.open(url);
  harness.cleanup(() => peer.close());
  if (filter) {
    peer.send({ type: 'subscribe', channel, filter, id: 'sub' });
    await peer.next((m) => m.type === 'subscribed');
  } else await peer.subscribe(channel);
  return peer;
}

describe.each([4, 5] as const)('MQTT %i retained messages and wills', (protocolVersion) => {
  it('send a channel\'s last retained message to each new subscriber with the retain flag, and an empty retained payload clears it', async () => {
    const { port, hub } = await start(anyone);
    const meter = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion });
    await meter.client.publishAsync('status/meter-1', '{"on":true}', { qos: 1, retain: true });
    await hub.publish('status/meter-1', 'note', 'a live message after it');

    const late = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion });
    await late.client.subscribeAsync('status/meter-1', { qos: 1 });
    expect(await late.next()).toMatchObject({ topic: 'status/meter-1', payload: '{"on":true}', retain: true });
    await hub.publish('status/meter-1', 'note', 'live');
    expect(await late.next()).toMatchObject({ payload: '"live"', retain: false });

    await meter.client.publishAsync('status/meter-1', '', { qos: 1, retain: true });
    const later = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion });
    await later.client.subscribeAsync('status/meter-1', { qos: 0 });
    await hub.publish('status/meter-1', 'note', 'after');
    await later.next((m) => m.payload === '"after"');
    expect(later.received.map((m) => m.payload)).toEqual(['"after"']);
  });

  it('publish a device\'s last will when it goes away without DISCONNECT, and not when it disconnects', async () => {
    const { port, url, hub } = await start(anyone);
    const watcher = await page(url, 'status/meter-2');
    const will = (by: string) => ({ topic: 'status/meter-2', payload: Buffer.from(`{"online":false,"by":"${by}"}`), qos: 1 as const, retain: true });
    const polite = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion, username: 'meter-2', will: will('polite') });
    await polite.client.endAsync();
    const gone = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion, username: 'meter-2', will: will('gone') });
    gone.client.stream.destroy();
    expect(await watcher.next((m) => m.channel === 'status/meter-2')).toMatchObject({ type: 'message', data: { online: false, by: 'gone' }, tags: { retain: '1' }, from: { user: 'meter-2' } });
    await sentinel(hub, 'status/meter-2', [watcher]);
    expect(watcher.messages.filter((m) => m.type === 'message')).toEqual([]);
    const late = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion });
    await late.client.subscribeAsync('status/meter-2', { qos: 1 });
    expect(await late.next()).toMatchObject({ payload: '{"online":false,"by":"gone"}', retain: true });
  });

  it('do not publish a will the channel policy refuses, and log why', async () => {
    const { port, url, logs, hub } = await start({ ...anyone, canPublish: ({ channel }) => channel !== 'status/meter-3' }, {}, { record: true });
    const watcher = await page(url, 'status/meter-3');
    const gone = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion, will: { topic: 'status/meter-3', payload: Buffer.from('x'), qos: 0, retain: false } });
    gone.client.stream.destroy();
    await expect.poll(() => logs.find((l) => l.code === 'mqtt_will_failed')?.message).toMatch(/its last will on "status\/meter-3" could not be published: forbidden/);
    await sentinel(hub, 'status/meter-3', [watcher]);
    expect(watcher.messages.filter((m) => m.channel === 'status/meter-3' && !String(m.type).startsWith('sentinel'))).toEqual([]);
  });
});

describe('MQTT wills as the hub closes', () => {
  it('are not published when the hub itself closes the connection, and that is logged', async () => {
    const { port, hub, logs } = await start(anyone, {}, { record: true });
    await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, will: { topic: 'status/meter-4', payload: Buffer.from('x'), qos: 0, retain: false } });
    await hub.close();
    await expect.poll(() => logs.find((l) => l.code === 'mqtt_will_skipped')?.message).toMatch(/disconnected as the hub closed; its last will on "status\/meter-4" was not published/);
    expect(logs.filter((l) => l.code === 'mqtt_will_failed')).toEqual([]);
  });
});

describe('MQTT 5 will delay', () => {
  it('publishes a will once its delay interval passed, and drops it when the device resumes its session within it', async () => {
    const { port, url, hub, endpoint, logs } = await start(anyone, {}, { record: true });
    const watcher = await page(url, 'status/meter-5');
    const options = (clientId: string) => ({
      protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 60 },
      will: { topic: 'status/meter-5', payload: Buffer.from(`"${clientId}"`), qos: 1 as const, retain: false, properties: { willDelayInterval: 1 } },
    });
    const back = await device(`mqtt://127.0.0.1:${port}`, options('back'));
    back.client.stream.destroy();
    await expect.poll(() => endpoint.storedSessions).toBe(1);
    await device(`mqtt://127.0.0.1:${port}`, options('back'));
    expect(logs.find((l) => l.code === 'mqtt_will_dropped')?.message).toMatch(/"back" resumed its session within its will delay interval/);

    const gone = await device(`mqtt://127.0.0.1:${port}`, options('gone'));
    const left = Date.now();
    gone.client.stream.destroy();
    expect(await watcher.next((m) => m.channel === 'status/meter-5', 5000)).toMatchObject({ data: 'gone' });
    expect(Date.now() - left).toBeGreaterThanOrEqual(900);
    await sentinel(hub, 'status/meter-5', [watcher]);
    expect(watcher.messages.filter((m) => m.type === 'message')).toEqual([]);
  });
});

describe('MQTT 5 message metadata', () => {
  it('carries a device\'s user properties as the message\'s tags to pages, whose filters match them, and tags back as user properties', async () => {
    const { port, url } = await start(anyone);
    const kitchen = await page(url, 'sensors', { room: 'kitchen' });
    const sensor = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, username: 'sensor' });
    await sensor.client.subscribeAsync('sensors', { qos: 1 });
    await sensor.client.publishAsync('sensors', '{"celsius":7}', { qos: 1, properties: { userProperties: { type: 'reading', room: 'hall' } } });
    await sensor.client.publishAsync('sensors', '{"celsius":21}', { qos: 1, properties: { userProperties: { type: 'reading', 'tag.room': 'kitchen', unit: 'C' } } });
    expect(await kitchen.next((m) => m.channel === 'sensors')).toMatchObject({ type: 'reading', data: { celsius: 21 }, tags: { room: 'kitchen', unit: 'C' }, from: { user: 'sensor' } });
    await sensor.next((m) => m.payload === '{"celsius":7}');
    expect(await sensor.next()).toMatchObject({ payload: '{"celsius":21}', properties: { userProperties: { type: 'reading', 'tag.room': 'kitchen', 'tag.unit': 'C' } } });
  });

  it('refuses user properties that cannot be tags with a PUBACK 0x83, and the connection stays', async () => {
    const { port, hub } = await start(anyone);
    const sensor = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
    await expect(sensor.client.publishAsync('sensors', '1', { qos: 1, properties: { userProperties: { 'not a tag': 'x' } } })).rejects.toMatchObject({ code: 0x83 });
    await sensor.client.subscribeAsync('sensors', { qos: 1 });
    await hub.publish('sensors', 'after', 2);
    expect(await sensor.next()).toMatchObject({ payload: '2' });
  });

  it('does not deliver a message past its expiry, and tells devices how long one has left', async () => {
    const { port } = await start({ ...anyone, history: { size: 100 } });
    const live = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
    await live.client.subscribeAsync('alerts', { qos: 1 });
    const away = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'away', clean: false, properties: { sessionExpiryInterval: 60 } });
    await away.client.subscribeAsync('alerts', { qos: 1 });
    await away.client.endAsync();
    const sensor = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
    const published = Date.now();
    await sensor.client.publishAsync('alerts', '"short"', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await sensor.client.publishAsync('alerts', '"lasting"', { qos: 1 });
    expect(await live.next()).toMatchObject({ payload: '"short"', properties: { messageExpiryInterval: 1 } });
    expect((await live.next()).properties).not.toHaveProperty('messageExpiryInterval');
    await expect.poll(() => Date.now() - published, { timeout: 3000 }).toBeGreaterThan(1100);
    const back = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'away', clean: false, properties: { sessionExpiryInterval: 60 } });
    expect(await back.next()).toMatchObject({ payload: '"lasting"' });
    expect(back.received.map((m) => m.payload)).toEqual(['"lasting"']);
  });
});
