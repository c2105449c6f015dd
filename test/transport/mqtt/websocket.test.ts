import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Peer } from '../../helpers.js';
import { mqttHarness } from './setup.js';

const { harness, start, device } = mqttHarness();
const anyone = { authenticate: () => ({ userId: 'anyone' }), canPublish: () => true };

describe('MQTT over WebSocket on the app\'s HTTP server', () => {
  it('serves mqtt.js at /mqtt beside the hub\'s own /ws, on one channel with livehub\'s WebSocket clients', async () => {
    const { url, base, endpoint, server, hub } = await start(anyone, { port: undefined });
    endpoint.attach(server);
    expect(endpoint.port).toBe(0);
    const peer = await Peer.open(url);
    harness.cleanup(() => peer.close());
    await peer.subscribe('dash');
    const browser = await device(`${base.replace('http', 'ws')}/mqtt`, { protocolVersion: 5 });
    await browser.client.subscribeAsync('dash', { qos: 1 });
    await browser.client.publishAsync('dash', '{"from":"mqtt-ws"}', { qos: 1 });
    expect(await peer.next((m) => m.type === 'message')).toMatchObject({ channel: 'dash', data: { from: 'mqtt-ws' } });
    peer.send({ type: 'publish', channel: 'dash', event: 'message', data: 'from ws', id: 1 });
    expect(await browser.next((m) => m.payload === '"from ws"')).toMatchObject({ topic: 'dash' });
    expect(hub.info().connections).toMatchObject({ mqtt: 1, websocket: 1 });
  });

  it('closes the session of a device whose WebSocket drops without DISCONNECT when the socket closes, not at the next heartbeat or keepalive', async () => {
    // Nothing else would notice soon: the hub's heartbeat and the device's keepalive are a minute apart.
    const { base, endpoint, server, hub } = await start({ ...anyone, heartbeatPeriod: 60_000 }, { port: undefined });
    endpoint.attach(server);
    const browser = await device(`${base.replace('http', 'ws')}/mqtt`, { protocolVersion: 5, keepalive: 60 });
    expect(hub.info().connections).toMatchObject({ mqtt: 1 });
    await browser.client.endAsync(true); // the socket is dropped: no DISCONNECT
    await expect.poll(() => hub.info().connections.mqtt ?? 0, { timeout: 10_000 }).toBe(0);
  });

  it('refuses an upgrade to /mqtt that offers no MQTT subprotocol with 400, and a foreign Origin with 403', async () => {
    const { base, endpoint, server } = await start(anyone, { port: undefined });
    endpoint.attach(server);
    const status = (headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
      const req = request(`${base}/mqtt`, { headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers } });
      req.on('response', (res) => { res.resume(); resolve(res.statusCode!); });
      req.on('upgrade', (_res, socket) => { socket.destroy(); resolve(101); });
      req.on('error', reject);
      req.end();
    });
    expect(await status({ 'Sec-WebSocket-Protocol': 'chat' })).toBe(400);
    expect(await status({ 'Sec-WebSocket-Protocol': 'mqtt', Origin: 'https://elsewhere.example' })).toBe(403);
    expect(await status({ 'Sec-WebSocket-Protocol': 'mqtt' })).toBe(101);
  });
});
