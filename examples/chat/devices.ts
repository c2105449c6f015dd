import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Express, Request } from 'express';
import { ErrorCode, HandlerError, type Hub } from 'livehub';
import { MqttEndpoint } from 'livehub/mqtt';
import { fail } from './auth.js';
import type { ChatMessage } from './messages.js';
import { MAX_BODY, parseMessage } from './messages.js';
import { dashboardPage, type Assets } from './pages.js';
import { parseReading, READING_RULE, SENSORS_PATTERN, sensorOf } from './readings.js';

/**
 * Devices in the chat (livehub/mqtt, docs/mqtt.md): with an MQTT port, devices speak MQTT over TCP on
 * it and over WebSocket at `/mqtt`, on the hub's own channels:
 * - topic `chat` (`private-chat` in JWT mode) is the chat: a device's publish of JSON
 *   `{"author","body"}` is a chat message, checked by the same rules as a page's (the `publish`
 *   middleware and `authorize` in server.ts); the server gives it its id, as it does to a message
 *   posted over HTTP without one;
 * - topic `sensors/<name>` carries a sensor's readings (readings.ts), which only devices publish and
 *   the dashboard (`GET /dashboard`) shows live, beside the chat.
 * A device refused (an invalid message or reading, an author that is not its own) gets, over MQTT 5 at
 * QoS 1, a PUBACK with the reason (0x99 payload format invalid, 0x87 not authorized); otherwise MQTT
 * has no answer but closing the connection. The hub logs each refusal (`mqtt_publish_refused`).
 */

export interface DevicesOptions {
  /** The chat's channel (`chat`, or `private-chat` in JWT mode). */
  channel: string;
  /** MQTT over TCP on this port (0: any free one), and over WebSocket at `/mqtt`. @default no MQTT */
  mqtt?: { port: number; host?: string };
}

const MQTT_OPTIONS = ['port', 'host'];

/** The name an anonymous device declared: its MQTT user name (as a page declares `?name=` on its socket URL). */
export function deviceName(request: { headers: Record<string, string | string[] | undefined> }): string | null {
  const name = request.headers['x-mqtt-username'];
  return typeof name === 'string' ? name : null;
}

/** Checks the chat's `mqtt` option (a TypeError at once), before anything is started. */
export function checkMqttOption(mqtt: DevicesOptions['mqtt']): void {
  if (mqtt === undefined) return;
  if (mqtt === null || typeof mqtt !== 'object') throw new TypeError('createChatServer: mqtt must be an object { port, host? }');
  for (const key of Object.keys(mqtt)) if (!MQTT_OPTIONS.includes(key)) throw new TypeError(`createChatServer: unknown mqtt option '${key}'; valid options are ${MQTT_OPTIONS.join(', ')}`);
  if (!Number.isInteger(mqtt.port) || mqtt.port < 0 || mqtt.port > 65535) throw new TypeError(`createChatServer: mqtt.port must be a port number from 0 to 65535 (MQTT_PORT), got ${String(mqtt.port)}`);
  if (mqtt.host !== undefined && (typeof mqtt.host !== 'string' || !mqtt.host)) throw new TypeError('createChatServer: mqtt.host must be an address to listen on (HOST)');
}

/**
 * Sets up the devices' side of the hub. Make it right after the hub: its middleware turns a device's
 * chat message into the page's form before the chat's own checks run.
 */
export function chatDevices(hub: Hub, options: DevicesOptions) {
  const { channel, mqtt } = options;
  checkMqttOption(mqtt);
  const endpoint = mqtt ? new MqttEndpoint({ port: mqtt.port, ...(mqtt.host ? { host: mqtt.host } : {}) }) : null;

  hub.use('publish', async (message, ctx, next) => {
    if (sensorOf(message.channel ?? '') !== null) {
      if (ctx.transport !== 'mqtt') throw new HandlerError(ErrorCode.Forbidden, 'sensor readings come from devices, over MQTT');
      if (!parseReading(message.data)) throw new HandlerError(ErrorCode.BadData, READING_RULE);
    } else if (ctx.transport === 'mqtt' && message.channel === channel && message.event === 'message') {
      const data = message.data as { id?: unknown; author?: unknown; body?: unknown } | null;
      // MQTT carries no message id: the server makes one up, as `chat:send` and `POST /messages` do.
      const parsed = parseMessage({ id: data?.id ?? randomUUID(), body: data?.body });
      if (!parsed) throw new HandlerError(ErrorCode.BadData, `a chat message from a device is JSON {"author","body"}: body a non-empty string of at most ${MAX_BODY} characters`);
      // What the middleware leaves in `data` is what is published: the message in the page's form.
      message.data = { ...parsed, author: data?.author };
    }
    await next();
  });

  if (endpoint) hub.addTransport(endpoint);

  return {
    endpoint,
    /** MQTT over WebSocket at /mqtt on the app's server, beside the pages' /ws. */
    attach(server: Server) {
      endpoint?.attach(server);
    },
    /** Resolves with the MQTT port once it listens (null without MQTT); rejects if it does not within 10 s. */
    async listening(): Promise<number | null> {
      if (!endpoint) return null;
      for (const deadline = Date.now() + 10_000; endpoint.port === 0;) {
        if (Date.now() > deadline) throw new Error(`chat: MQTT is not listening on port ${mqtt!.port} after 10 s (is the port taken? see the transport_start_failed line)`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return endpoint.port;
    },
    /** The dashboard, `GET /dashboard`: the sensors' latest readings, live, beside the chat. */
    mount(app: Express, page: { jwt: boolean; assets: Assets; userOf: (req: Request) => Promise<{ userId: string } | null>; recent: () => Promise<{ messages: ChatMessage[]; position: unknown }> }) {
      app.get('/dashboard', async (req, res) => {
        const user = await page.userOf(req);
        if (page.jwt && !user) return fail(res, 401, 'unauthorized', 'log in on / first: the dashboard shows the private chat');
        let recent;
        try {
          recent = await page.recent();
        } catch (error) {
          return fail(res, 503, 'unavailable', `the messages cannot be read: ${(error as Error).message}`);
        }
        res.type('html').send(dashboardPage(page.assets, {
          channel, pattern: SENSORS_PATTERN, mode: page.jwt ? 'jwt' : 'open', user: user?.userId ?? null,
          mqttPort: endpoint && endpoint.port > 0 ? endpoint.port : null, ...recent,
        }));
      });
    },
  };
}
