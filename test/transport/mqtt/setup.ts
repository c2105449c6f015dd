/**
 * For the MQTT tests: a hub on a real server with an MQTT endpoint on port 0 (never 1883, where the
 * machine's own Mosquitto listens), and devices made with mqtt.js that record what they get.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { expect } from 'vitest';
import type { HubOptions } from 'livehub';
import { MqttEndpoint, type MqttOptions } from 'livehub/mqtt';
import { perTest, type HubSetup } from '../../helpers.js';

export interface Received {
  topic: string;
  payload: string;
  properties: Record<string, unknown> | undefined;
  /** The PUBLISH's DUP flag (a delivery sent again) and retain flag. */
  dup: boolean;
  retain: boolean;
}

/** An mqtt.js client and the messages it received, in order. */
export interface Device {
  client: MqttClient;
  received: Received[];
  /** Subscribes, and resolves with the SUBACK's codes (mqtt.js rejects a SUBACK that refuses a topic). */
  suback(topics: Record<string, { qos: 0 | 1 }>): Promise<number[]>;
  /** The first received message (after those taken) that matches, polled as messages arrive. */
  next(match?: (message: Received) => boolean): Promise<Received>;
}

export function mqttHarness() {
  const harness = perTest();
  return {
    harness,
    /** A hub with its WebSocket at `url` and MQTT over TCP at `port`. */
    async start(options: HubOptions = {}, mqttOptions: MqttOptions = {}, setup: HubSetup = {}) {
      const started = await harness.start(setup.record ? options : { logger: false, ...options }, setup);
      const tcp = !('port' in mqttOptions) || mqttOptions.port !== undefined; // `port: undefined`: WebSocket only
      const endpoint = new MqttEndpoint(tcp ? { port: 0, host: '127.0.0.1', ...mqttOptions } : {});
      started.hub.addTransport(endpoint);
      if (tcp) await expect.poll(() => endpoint.port).toBeGreaterThan(0);
      return { ...started, endpoint, port: endpoint.port };
    },
    /** An mqtt.js device connected to `url` (it does not reconnect). */
    async device(url: string, options: IClientOptions = {}): Promise<Device> {
      const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
      harness.cleanup(() => client.endAsync(true));
      return recording(client);
    },
  };
}

/** Records what an mqtt.js client receives. */
export function recording(client: MqttClient): Device {
  const received: Received[] = [];
  const taken = new Set<Received>();
  client.on('message', (topic, payload, packet) => {
    received.push({ topic, payload: payload.toString('utf8'), properties: packet.properties as Record<string, unknown> | undefined, dup: packet.dup, retain: packet.retain });
  });
  return {
    client,
    received,
    async suback(topics) {
      const answer = new Promise<number[]>((resolve) => {
        const listener = (packet: { cmd: string; granted?: number[] }) => {
          if (packet.cmd !== 'suback') return;
          client.off('packetreceive', listener as never);
          resolve(packet.granted!);
        };
        client.on('packetreceive', listener as never);
      });
      client.subscribe(topics, () => {});
      return answer;
    },
    async next(match = () => true) {
      let found: Received | undefined;
      await expect.poll(() => (found = received.find((m) => !taken.has(m) && match(m))), { timeout: 5000 }).toBeDefined();
      taken.add(found!);
      return found!;
    },
  };
}
