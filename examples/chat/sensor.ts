/**
 * A simulated sensor: an MQTT device (mqtt.js) that says hello in the chat, then publishes a reading
 * every few seconds, which the dashboard (GET /dashboard) shows live. Start the chat with MQTT first:
 *
 *   MQTT_PORT=1884 npm start            # then, in another terminal:
 *   MQTT_URL=mqtt://localhost:1884 npm run sensor
 *
 * Environment: `MQTT_URL` (default mqtt://localhost:1884; `ws://localhost:3000/mqtt` works too),
 * `SENSOR` (its name, default `kitchen`: it publishes on topic `sensors/<SENSOR>` and writes in the chat
 * as that name), `INTERVAL` (milliseconds between readings, default 2000), `COUNT` (readings to send,
 * then exit; default: until stopped), `CHANNEL` (the chat's topic, default `chat`). For a server started
 * with AUTH=jwt, set `AUTH=jwt` here too: it logs in first (`POST /login` at `CHAT_URL`, default
 * http://localhost:3000), connects with the token as its MQTT password, and writes in `private-chat`.
 */
import mqtt from 'mqtt';
import { isValidName, NAME_RULE } from './messages.js';
import { parseReading, READING_RULE, sensorChannel } from './readings.js';

const env = process.env;
const url = env.MQTT_URL ?? 'mqtt://localhost:1884';
const sensor = env.SENSOR ?? 'kitchen';
const interval = Number(env.INTERVAL ?? 2000);
const count = env.COUNT === undefined ? Infinity : Number(env.COUNT);
const channel = env.CHANNEL ?? (env.AUTH === 'jwt' ? 'private-chat' : 'chat');

function fail(message: string, code = 1): never {
  console.error(`sensor: ${message}`);
  process.exit(code);
}
if (!isValidName(sensor)) fail(`SENSOR: ${NAME_RULE}`, 2);
if (!(interval >= 100)) fail('INTERVAL must be a number of milliseconds, at least 100', 2);
if (!(count >= 1)) fail('COUNT must be a number of readings, at least 1', 2);

/** JWT mode: the token of a login as the sensor's name (the chat sets it as a cookie). */
async function login(): Promise<string> {
  const base = (env.CHAT_URL ?? 'http://localhost:3000').replace(/\/$/, '');
  const response = await fetch(`${base}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: sensor }) })
    .catch((error: Error) => fail(`cannot reach ${base}: ${String(error.cause ?? error.message)}`));
  const token = /livehub_token=([^;]+)/.exec(response.headers.get('set-cookie') ?? '')?.[1];
  if (!response.ok || !token) fail(`the login at ${base}/login was refused: HTTP ${response.status} ${await response.text()}`);
  return token;
}

const password = env.AUTH === 'jwt' ? await login() : undefined;
// MQTT 5, so a refused publish comes back with its reason code; the user name is the name it declares.
const device = await mqtt.connectAsync(url, { protocolVersion: 5, username: sensor, ...(password ? { password } : {}), reconnectPeriod: 0, connectTimeout: 10_000 })
  .catch((error: Error) => fail(`cannot connect to ${url}: ${error.message} (is the chat running with MQTT_PORT?)`));
console.log(`sensor ${sensor}: connected to ${url}`);
let ending = false;
device.on('error', (error) => fail(`${url}: ${error.message}`));
device.on('close', () => { if (!ending) fail(`the connection to ${url} closed (the server stopped, or closed this device: see its log)`); });

const publish = async (topic: string, data: unknown) => {
  await device.publishAsync(topic, JSON.stringify(data), { qos: 1 })
    .catch((error: Error) => fail(`the publish on ${topic} was refused: ${error.message}`));
};
await publish(channel, { author: sensor, body: `${sensor} is online, publishing a reading every ${interval / 1000} s on sensors/${sensor}` });

let celsius = 21;
let humidity = 45;
const walk = (value: number, step: number, low: number, high: number) => Math.min(high, Math.max(low, value + (Math.random() - 0.5) * step));
for (let sent = 0; sent < count; sent++) {
  if (sent > 0) await new Promise((resolve) => setTimeout(resolve, interval));
  celsius = walk(celsius, 0.6, 15, 30);
  humidity = walk(humidity, 2, 20, 80);
  const reading = { celsius: Math.round(celsius * 10) / 10, humidity: Math.round(humidity) };
  if (!parseReading(reading)) fail(READING_RULE);
  await publish(sensorChannel(sensor), reading);
  console.log(`sensor ${sensor}: ${JSON.stringify(reading)}`);
}
ending = true;
await device.endAsync();
