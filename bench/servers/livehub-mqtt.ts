import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { statsHandler } from './stats.js';

// The compiled package (dist/), as bench/servers/livehub.ts runs it; LIVEHUB_BENCH_SOURCES=1 for the sources.
const lib = process.env.LIVEHUB_BENCH_SOURCES === '1' ? '../../pkg' : '../../dist/pkg';
const { Hub } = await import(`${lib}/index.js`) as typeof import('../../pkg/index.js');
const { MqttEndpoint } = await import(`${lib}/transport/mqtt/index.js`) as typeof import('../../pkg/transport/mqtt/index.js');

/**
 * W10's livehub (bench/mqtt-run.ts): a hub with its MQTT endpoint on a TCP port of its own, every
 * topic open to subscribe and publish, no per-connection caps. Prints `READY <mqtt port> <http port>`
 * (the HTTP port serves /__bench/stats).
 *
 *   node --import tsx bench/servers/livehub-mqtt.ts
 */
const hub = new Hub({
  codec: 'js', authorize: () => true, origins: () => true, canPublish: () => true,
  rateLimit: Infinity, maxConnectionsPerIp: Infinity, maxConnections: Infinity,
});
const mqtt = new MqttEndpoint({ port: 0, host: '127.0.0.1' });
hub.addTransport(mqtt);
const stats = statsHandler(() => { const { node: _node, connections: _connections, ...totals } = hub.info(); return totals; });
const server = createServer((req, res) => { if (!stats(req, res)) { res.statusCode = 404; res.end(); } });
server.listen(0, '127.0.0.1', async () => {
  while (mqtt.port === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  console.log(`READY ${mqtt.port} ${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => hub.close().then(() => process.exit(0)));
