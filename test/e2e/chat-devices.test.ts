import type { ChildProcess } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kill, launchChromium, startChat } from './browser.js';

let browser: Browser;
let server: { child: ChildProcess; port: number };
const devices: MqttClient[] = [];

beforeAll(async () => {
  // MQTT_PORT=0: MQTT over TCP on any free port (never 1883, the machine's own Mosquitto), and /mqtt.
  [browser, server] = await Promise.all([launchChromium(), startChat(0, { MQTT_PORT: '0' })]);
});
afterAll(async () => {
  for (const device of devices) await device.endAsync(true);
  await browser?.close();
  if (server) await kill(server.child);
});

/** A page of the example (`/` the chat, `/dashboard`) under a chosen name, once its socket is open. */
async function open(path: string, name: string): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript((n) => localStorage.setItem('livehub.author', n), name);
  const page = await context.newPage();
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(error.message));
  await page.goto(`http://127.0.0.1:${server.port}${path}`);
  await page.locator('[data-testid="status"][data-status="open"]').waitFor({ timeout: 10_000 }).catch((error: Error) => {
    throw new Error(`${path} did not connect: ${failures.join('; ') || error.message}`);
  });
  return page;
}

/** A device: mqtt.js over the example's MQTT-over-WebSocket path, MQTT 5, its user name its name. */
async function device(name: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(`ws://127.0.0.1:${server.port}/mqtt`, { protocolVersion: 5, username: name, reconnectPeriod: 0, connectTimeout: 10_000 });
  devices.push(client);
  return client;
}

const shown = (page: Page, text: string) => page.locator('[data-testid="message"]', { hasText: text });

describe('the example\'s devices: an MQTT device, the chat page and the dashboard on one channel', () => {
  it('shows a device\'s chat message on the chat page and the dashboard, and a page\'s message reaches the device', async () => {
    const [chat, dashboard] = await Promise.all([open('/', 'paula'), open('/dashboard', 'paula')]);
    const thermo = await device('thermo');
    const heard: string[] = [];
    thermo.on('message', (topic, payload) => { if (topic === 'chat') heard.push(payload.toString()); });
    await thermo.subscribeAsync('chat', { qos: 1 });

    await thermo.publishAsync('chat', JSON.stringify({ author: 'thermo', body: 'hello from a device' }), { qos: 1 });
    await shown(chat, 'hello from a device').waitFor({ timeout: 10_000 });
    await shown(dashboard, 'hello from a device').waitFor({ timeout: 10_000 });
    expect(await shown(chat, 'hello from a device').locator('strong').innerText()).toBe('thermo');

    await chat.fill('input[name="body"]', 'hello, device');
    await chat.click('button[type="submit"]');
    await expect.poll(() => heard.map((text) => JSON.parse(text) as { author: string; body: string }), { timeout: 10_000 })
      .toContainEqual(expect.objectContaining({ author: 'paula', body: 'hello, device' }));
    await shown(dashboard, 'hello, device').waitFor({ timeout: 10_000 });
  });

  it('shows a device\'s readings live on the dashboard', async () => {
    const dashboard = await open('/dashboard', 'paula');
    const cellar = await device('cellar');
    const row = dashboard.locator('[data-testid="sensor"][data-sensor="cellar"]');
    // The dashboard's pattern is live only, and subscribed once its socket is open: publish until it shows.
    await expect.poll(async () => {
      await cellar.publishAsync('sensors/cellar', JSON.stringify({ celsius: 12.5, humidity: 71 }), { qos: 1 });
      return row.count();
    }, { timeout: 15_000, interval: 300 }).toBe(1);
    await expect.poll(() => row.innerText()).toContain('celsius 12.5');
    await cellar.publishAsync('sensors/cellar', JSON.stringify({ celsius: 13.25, humidity: 70 }), { qos: 1 });
    await expect.poll(() => row.innerText(), { timeout: 10_000 }).toContain('celsius 13.3');
    expect(await row.innerText()).toContain('humidity 70');
  });

  it('never shows a device\'s invalid chat message, which the device hears refused (PUBACK 0x99)', async () => {
    const chat = await open('/', 'paula');
    const probe = await device('probe');
    await expect(probe.publishAsync('chat', JSON.stringify({ author: 'probe', body: '   ' }), { qos: 1 })).rejects.toMatchObject({ code: 0x99 });
    await expect(probe.publishAsync('chat', 'not a chat message', { qos: 1 })).rejects.toMatchObject({ code: 0x99 });
    await probe.publishAsync('chat', JSON.stringify({ author: 'probe', body: 'the sentinel after the refusals' }), { qos: 1 });
    await shown(chat, 'the sentinel after the refusals').waitFor({ timeout: 10_000 });
    expect(await chat.locator('[data-testid="message"]', { has: chat.locator('strong', { hasText: /^probe$/ }) }).count()).toBe(1);
    expect(await shown(chat, 'not a chat message').count()).toBe(0);
  });
});
