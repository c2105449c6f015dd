/**
 * livehub/mqtt: MQTT 3.1.1 and 5.0 for devices, on the hub's channels. An MQTT endpoint is a
 * transport like the hub's WebSocket and SSE ones, written on `livehub/transport` alone: devices get
 * the hub's authentication, channel policy, limits, engine (so every node), events and metrics, and
 * see the messages WebSocket and SSE clients publish, and the other way round. See docs/mqtt.md.
 *
 * ```ts
 * import { MqttEndpoint } from 'livehub/mqtt';
 * const mqtt = new MqttEndpoint({ port: 1883 });
 * hub.addTransport(mqtt);
 * mqtt.attach(server);   // MQTT over WebSocket at /mqtt
 * ```
 */
export { MqttEndpoint, type MqttOptions } from './endpoint.js';
export { channelOf, topicOf } from './topics.js';
