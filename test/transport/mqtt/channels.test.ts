import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { AuthError, jwtAuthenticator, type HubOptions } from 'livehub';
import { Peer, sentinel } from '../../helpers.js';
import { mqttHarness } from './setup.js';

const { harness, start, device } = mqttHarness();
const anyone: HubOptions = { authenticate: () => ({ userId: 'anyone' }), canPublish: () => true };

describe.each([4, 5] as const)('MQTT %i devices on livehub channels', (protocolVersion) => {
  it('see WebSocket clients\' messages on the channel of their topic, and WebSocket clients see theirs', async () => {
    const { url, port, hub } = await start(anyone);
    const peer = await Peer.open(url);
    harness.cleanup(() => peer.close());
    await peer.subscribe('sensors/kitchen');
    const sensor = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion });
    const granted = await sensor.client.subscribeAsync('sensors/kitchen', { qos: 1 });
    expect(granted).toEqual([expect.objectContaining({ topic: 'sensors/kitchen', qos: 1 })]);

    peer.send({ type: 'publish', channel: 'sensors/kitchen', event: 'setpoint', data: { celsius: 21 }, id: 1 });
    const got = await sensor.next();
    expect(got).toMatchObject({ topic: 'sensors/kitchen', payload: '{"celsius":21}' });
    if (protocolVersion === 5) expect(got.properties).toMatchObject({ userProperties: { type: 'setpoint', 'from.user': 'anyone' }, contentType: 'application/json' });

    await sensor.client.publishAsync('sensors/kitchen', '{"celsius":22.5}', { qos: 1 });
    expect(await peer.next((m) => m.type === 'message')).toMatchObject({ channel: 'sensors/kitchen', data: { celsius: 22.5 }, offset: 2, from: { user: 'anyone' } });
    await sensor.client.publishAsync('sensors/kitchen', 'plain text', { qos: 0 });
    expect(await peer.next((m) => m.type === 'message')).toMatchObject({ data: 'plain text', offset: 3 });
    expect(hub.info().connections).toMatchObject({ mqtt: 1, websocket: 1 });
  });

  it('pass the hub\'s authenticate with a JWT as password, and are refused a wrong one with the CONNACK code of their version', async () => {
    const secret = new TextEncoder().encode('a-secret-of-at-least-32-bytes-long!!');
    const { port, hub } = await start({ authenticate: jwtAuthenticator({ key: secret }) });
    const token = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(secret);
    const alice = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion, username: 'alice', password: token });
    await expect.poll(() => hub.connectedClients('alice')).toHaveLength(1);
    await hub.sendToUser('alice', 'note', 'for alice');
    expect(await alice.next()).toMatchObject({ topic: 'user:alice', payload: '"for alice"' });
    const refused = device(`mqtt://127.0.0.1:${port}`, { protocolVersion, username: 'alice', password: 'forged' });
    await expect(refused).rejects.toMatchObject({ code: protocolVersion === 5 ? 0x86 : 4 });
  });

  it('are refused a channel authorize does not allow, in the SUBACK, and keep the topics and patterns it allows', async () => {
    const { port, hub } = await start({ authorize: ({ channel }) => channel !== 'secret' });
    const sensor = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion });
    const granted = await sensor.suback({ secret: { qos: 0 }, open: { qos: 0 }, 'bad topic': { qos: 0 }, 'a/+/c': { qos: 0 } });
    expect(granted).toEqual(protocolVersion === 5 ? [0x87, 0, 0x8f, 0] : [0x80, 0, 0x80, 0]);
    await hub.publish('open', 'news', 'hello');
    expect(await sensor.next()).toMatchObject({ topic: 'open', payload: '"hello"' });
  });
});

describe('MQTT refusals a device can be told', () => {
  it('a QoS 1 publish canPublish refuses gets a PUBACK with reason 0x87 in MQTT 5, and the connection stays', async () => {
    const { port, hub } = await start({ canPublish: ({ channel }) => channel === 'open' });
    const sensor = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
    await expect(sensor.client.publishAsync('closed', '1', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    await sensor.client.subscribeAsync('open');
    await sensor.client.publishAsync('open', '2', { qos: 1 });
    expect(await sensor.next()).toMatchObject({ topic: 'open', payload: '2' });
    expect(hub.info().connections).toMatchObject({ mqtt: 1 });
  });

  it('an MQTT 3.1.1 publish canPublish refuses closes the connection (3.1.1 has no refusal) and is logged', async () => {
    const { port, logs } = await start({ canPublish: () => false }, {}, { record: true });
    const sensor = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4 });
    const closed = new Promise((resolve) => sensor.client.once('close', () => resolve(true)));
    sensor.client.publish('closed', '1', { qos: 1 });
    expect(await closed).toBe(true);
    await expect.poll(() => logs.find((l) => l.code === 'mqtt_publish_refused')?.message).toMatch(/could not publish on "closed": forbidden/);
  });

  it('a device refused by authenticate as unauthorized gets CONNACK 5 (3.1.1) or 0x87 (5)', async () => {
    const { port } = await start({ authenticate: () => { throw new AuthError(401, 'no'); } });
    await expect(device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4 })).rejects.toMatchObject({ code: 5 });
    await expect(device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 })).rejects.toMatchObject({ code: 0x87 });
  });

  it('hub.close() tells MQTT 5 devices the server is shutting down (DISCONNECT 0x8B)', async () => {
    const { port, hub } = await start();
    const sensor = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
    const disconnect = new Promise<number | undefined>((resolve) => sensor.client.once('disconnect', (packet) => resolve(packet.reasonCode)));
    await hub.close();
    expect(await disconnect).toBe(0x8b);
  });

  it('a subscriber on another channel keeps getting its messages meanwhile', async () => {
    const { url, port, hub } = await start(anyone);
    const peer = await Peer.open(url);
    harness.cleanup(() => peer.close());
    await peer.subscribe('canary');
    const sensor = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
    await sensor.client.subscribeAsync('canary');
    await hub.publish('canary', 'tick', 1);
    expect(await sensor.next()).toMatchObject({ payload: '1' });
    await sentinel(hub, 'canary', [peer]);
  });
});
