import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { toChatMessage } from '../../examples/chat/messages.js';
import { Peer, recordingLogger, subscribers } from '../helpers.js';
import { chatServers, post } from './chat.js';

const chats = chatServers();
const root = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'example-secret-that-is-long-enough-32b';

/** The example chat with MQTT on port 0 (never 1883: the machine's own Mosquitto listens there). */
async function startWithMqtt(options: Parameters<typeof chats.start>[0] = {}) {
  const log = recordingLogger();
  const chat = await chats.start({ mqtt: { port: 0, host: '127.0.0.1' }, hub: { logger: log.logger }, ...options });
  const port = await chat.mqttListening();
  return { ...chat, mqttPort: port!, lines: log.lines };
}

/** An mqtt.js device (it does not reconnect), ended after the test. */
async function device(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  chats.cleanup(() => client.endAsync(true));
  return client;
}

/** A page's socket subscribed to `channel` (open mode: it declares a name). */
async function page(ws: string, channel: string, headers: Record<string, string> = {}): Promise<Peer> {
  const peer = await Peer.open(`${ws}?name=reader`, { headers });
  chats.cleanup(async () => peer.close());
  await peer.subscribe(channel);
  return peer;
}

/** Runs the sensor script (examples/chat/sensor.ts) with `env`; its exit code, and what it printed. */
function sensorScript(env: Record<string, string>) {
  const script = spawn(process.execPath, ['--import', 'tsx', 'examples/chat/sensor.ts'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  script.stdout.on('data', (chunk) => { output += chunk; });
  script.stderr.on('data', (chunk) => { output += chunk; });
  chats.cleanup(async () => { script.kill(); });
  return { exit: new Promise<number | null>((resolve) => script.once('exit', resolve)), output: () => output };
}

describe('the example chat with MQTT devices (MQTT_PORT)', () => {
  it('shows a device\'s publish on topic chat to the pages as a chat message, with an id the server gave it', async () => {
    const chat = await startWithMqtt();
    const reader = await page(chat.ws, 'chat');
    for (const protocolVersion of [4, 5] as const) {
      const sensor = await device(`mqtt://127.0.0.1:${chat.mqttPort}`, { protocolVersion, username: `probe-${protocolVersion}` });
      await sensor.publishAsync('chat', JSON.stringify({ author: `probe-${protocolVersion}`, body: ` hello from MQTT ${protocolVersion} ` }), { qos: 1 });
      const message = await reader.next((m) => m.channel === 'chat' && m.type === 'message');
      expect(toChatMessage(message)).toEqual({ id: expect.stringMatching(/^[\w-]{8,64}$/), author: `probe-${protocolVersion}`, body: `hello from MQTT ${protocolVersion}`, offset: message.offset });
    }
    // It is in the chat's history, as the page loads it.
    const { messages } = await (await fetch(`${chat.base}/messages`)).json() as { messages: Array<{ body: string }> };
    expect(messages.map((m) => m.body)).toEqual(['hello from MQTT 4', 'hello from MQTT 5']);
  });

  it('takes MQTT over WebSocket at /mqtt on the chat\'s own port', async () => {
    const chat = await startWithMqtt();
    const reader = await page(chat.ws, 'chat');
    const sensor = await device(`ws://127.0.0.1:${chat.port}/mqtt`, { protocolVersion: 5, username: 'webdevice' });
    await sensor.publishAsync('chat', JSON.stringify({ author: 'webdevice', body: 'over a WebSocket' }), { qos: 1 });
    expect((await reader.next((m) => m.channel === 'chat')).data).toMatchObject({ author: 'webdevice', body: 'over a WebSocket' });
  });

  it('refuses an invalid chat message with PUBACK 0x99 and an author not its own with 0x87, logs both, and neither reaches the page', async () => {
    const chat = await startWithMqtt();
    const reader = await page(chat.ws, 'chat');
    const sensor = await device(`mqtt://127.0.0.1:${chat.mqttPort}`, { protocolVersion: 5, username: 'probe' });
    for (const payload of [{ author: 'probe', body: '   ' }, { author: 'probe', body: 'x'.repeat(2001) }, { author: 'probe' }, 'just text']) {
      await expect(sensor.publishAsync('chat', typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 }), JSON.stringify(payload).slice(0, 40))
        .rejects.toMatchObject({ code: 0x99 });
    }
    await expect(sensor.publishAsync('chat', JSON.stringify({ author: 'someone-else', body: 'in another name' }), { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    await expect(sensor.publishAsync('chat', JSON.stringify({ body: 'with no author' }), { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    // The connection stays, and its next valid message is the first the page gets.
    await sensor.publishAsync('chat', JSON.stringify({ author: 'probe', body: 'the sentinel' }), { qos: 1 });
    expect((await reader.next((m) => m.channel === 'chat')).data).toMatchObject({ body: 'the sentinel' });
    expect(reader.messages.filter((m) => m.channel === 'chat')).toEqual([]);
    expect(chat.lines.filter((line) => line.code === 'mqtt_publish_refused').map((line) => line.message)).toEqual([
      expect.stringContaining('bad_data (a chat message from a device is JSON {"author","body"}'),
      expect.stringContaining('forbidden'),
    ]);
  });

  it('closes an MQTT 3.1.1 device whose chat message is invalid (it has no refusal of a publish), and the page never gets it', async () => {
    const chat = await startWithMqtt();
    const reader = await page(chat.ws, 'chat');
    const sensor = await device(`mqtt://127.0.0.1:${chat.mqttPort}`, { protocolVersion: 4, username: 'probe' });
    const closed = new Promise<void>((resolve) => sensor.once('close', () => resolve()));
    sensor.publish('chat', JSON.stringify({ author: 'probe', body: '' }), { qos: 1 });
    await closed;
    await post(`${chat.base}/messages`, { author: 'server', body: 'the sentinel' });
    expect((await reader.next((m) => m.channel === 'chat')).data).toMatchObject({ body: 'the sentinel' });
    expect(chat.lines.map((line) => line.code)).toContain('mqtt_publish_refused');
  });

  it('delivers the sensor script\'s readings on its sensors/<name> channel to the dashboard\'s pattern, and its hello to the chat', async () => {
    const chat = await startWithMqtt();
    const dashboard = await Peer.open(chat.ws);
    chats.cleanup(async () => dashboard.close());
    dashboard.send({ type: 'subscribe', pattern: 'sensors/+', id: 1 });
    await dashboard.next((m) => m.type === 'subscribed' && m.pattern === 'sensors/+');
    await dashboard.subscribe('chat');
    const sensor = sensorScript({ MQTT_URL: `mqtt://127.0.0.1:${chat.mqttPort}`, SENSOR: 'attic', COUNT: '3', INTERVAL: '100' });
    expect((await dashboard.next((m) => m.channel === 'chat', 30_000)).data).toMatchObject({ author: 'attic', body: expect.stringContaining('attic is online') });
    for (let reading = 0; reading < 3; reading++) {
      const message = await dashboard.next((m) => m.channel === 'sensors/attic', 30_000);
      expect(message.data).toEqual({ celsius: expect.any(Number), humidity: expect.any(Number) });
    }
    expect(await sensor.exit, sensor.output()).toBe(0);
  });

  it('runs the sensor script against a chat in JWT mode: it logs in, and its hello and readings reach a logged-in page', async () => {
    const chat = await startWithMqtt({ auth: 'jwt', secret: SECRET });
    const cookie = (await post(`${chat.base}/login`, { name: 'zoe' })).headers.get('set-cookie')!.split(';')[0]!;
    const dashboard = await Peer.open(chat.ws, { headers: { Cookie: cookie } });
    chats.cleanup(async () => dashboard.close());
    dashboard.send({ type: 'subscribe', pattern: 'sensors/+', id: 1 });
    await dashboard.next((m) => m.type === 'subscribed');
    await dashboard.subscribe('private-chat');
    const sensor = sensorScript({ AUTH: 'jwt', CHAT_URL: chat.base, MQTT_URL: `mqtt://127.0.0.1:${chat.mqttPort}`, SENSOR: 'cellar', COUNT: '1' });
    expect(await dashboard.next((m) => m.channel === 'private-chat', 30_000)).toMatchObject({ from: { user: 'cellar' }, data: { author: 'cellar' } });
    expect(await dashboard.next((m) => m.channel === 'sensors/cellar', 30_000)).toMatchObject({ from: { user: 'cellar' } });
    expect(await sensor.exit, sensor.output()).toBe(0);
  });

  it('refuses a page publishing a sensor reading, and a device publishing one that is no reading', async () => {
    const chat = await startWithMqtt();
    const writer = await Peer.open(`${chat.ws}?name=writer`);
    chats.cleanup(async () => writer.close());
    writer.send({ type: 'publish', channel: 'sensors/attic', event: 'message', data: { celsius: 99 }, id: 'fake' });
    expect(await writer.next((m) => m.id === 'fake')).toMatchObject({ type: 'error', code: 'forbidden' });
    const sensor = await device(`mqtt://127.0.0.1:${chat.mqttPort}`, { protocolVersion: 5, username: 'attic' });
    await expect(sensor.publishAsync('sensors/attic', JSON.stringify({ celsius: 'warm' }), { qos: 1 })).rejects.toMatchObject({ code: 0x99 });
    await sensor.publishAsync('sensors/attic', JSON.stringify({ celsius: 20 }), { qos: 1 });
  });

  it('gives mosquitto_sub on topic chat the messages pages post', async () => {
    const chat = await startWithMqtt();
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(chat.mqttPort), '-V', 'mqttv311', '-t', 'chat', '-C', '1', '-W', '20']);
    chats.cleanup(async () => { sub.kill(); });
    let out = '';
    sub.stdout.on('data', (chunk) => { out += String(chunk); });
    const exited = new Promise<number | null>((resolve) => sub.once('exit', resolve));
    // Subscribed once the hub counts it on the channel; then one post is the one message it waits for.
    await expect.poll(() => subscribers(chat.hub, 'chat'), { timeout: 15_000 }).toBe(1);
    expect((await post(`${chat.base}/messages`, { author: 'ann', body: 'to the devices' })).status).toBe(201);
    expect(await exited).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ author: 'ann', body: 'to the devices', id: expect.any(String) });
  });

  it('takes a device with a login token as MQTT password in JWT mode, on private-chat, and refuses one without', async () => {
    const chat = await startWithMqtt({ auth: 'jwt', secret: SECRET });
    const login = await post(`${chat.base}/login`, { name: 'zoe' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const reader = await Peer.open(chat.ws, { headers: { Cookie: cookie } });
    chats.cleanup(async () => reader.close());
    await reader.subscribe('private-chat');
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${chat.mqttPort}`, { protocolVersion: 5, reconnectPeriod: 0 })).rejects.toMatchObject({ code: 0x87 });
    const token = cookie.slice('livehub_token='.length);
    const sensor = await device(`mqtt://127.0.0.1:${chat.mqttPort}`, { protocolVersion: 5, username: 'zoe', password: token });
    await expect(sensor.publishAsync('chat', JSON.stringify({ author: 'zoe', body: 'public?' }), { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    await sensor.publishAsync('private-chat', JSON.stringify({ author: 'zoe', body: 'from my device' }), { qos: 1 });
    const message = await reader.next((m) => m.channel === 'private-chat');
    expect(message).toMatchObject({ from: { user: 'zoe' }, data: { author: 'zoe', body: 'from my device' } });
  });

  it('connects a device with the three lines of docs/mqtt.md (a login token as password) and delivers its reading to the dashboard\'s pattern', async () => {
    const doc = readFileSync(join(root, 'docs/mqtt.md'), 'utf8');
    expect(doc).toContain("const device = await mqtt.connectAsync('mqtt://hub.example:1883', { username: 'sensor-7', password: token });");
    expect(doc).toContain("await device.publishAsync('sensors/kitchen', JSON.stringify({ celsius: 21.5 }), { qos: 1 });");
    const chat = await startWithMqtt({ auth: 'jwt', secret: SECRET });
    const cookie = (await post(`${chat.base}/login`, { name: 'sensor-7' })).headers.get('set-cookie')!.split(';')[0]!;
    const token = cookie.slice('livehub_token='.length);
    const dashboard = await Peer.open(chat.ws, { headers: { Cookie: cookie } });
    chats.cleanup(async () => dashboard.close());
    dashboard.send({ type: 'subscribe', pattern: 'sensors/+', id: 1 });
    await dashboard.next((m) => m.type === 'subscribed');
    // The doc's lines, with this server's address for hub.example:1883.
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${chat.mqttPort}`, { username: 'sensor-7', password: token });
    chats.cleanup(() => device.endAsync(true));
    await device.publishAsync('sensors/kitchen', JSON.stringify({ celsius: 21.5 }), { qos: 1 });
    expect(await dashboard.next((m) => m.channel === 'sensors/kitchen')).toMatchObject({ data: { celsius: 21.5 }, from: { user: 'sensor-7' } });
  });

  it('runs without MQTT unless given a port, and refuses an unknown mqtt option', async () => {
    const chat = await chats.start();
    expect(chat.mqtt).toBeNull();
    expect(await chat.mqttListening()).toBeNull();
    const html = await (await fetch(`${chat.base}/dashboard`)).text();
    expect(html).toContain('"mqttPort":null');
    const { createChatServer } = await import('../../examples/chat/server.js');
    expect(() => createChatServer({ mqtt: { port: 0, hots: 'x' } as never })).toThrow(new TypeError("createChatServer: unknown mqtt option 'hots'; valid options are port, host"));
    expect(() => createChatServer({ mqtt: { port: 1e6 } })).toThrow(TypeError);
  });
});
