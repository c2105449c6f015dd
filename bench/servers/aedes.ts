import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';

/**
 * W10's aedes (bench/mqtt-run.ts): the aedes MQTT broker with its defaults (in-memory persistence,
 * no authentication) on a TCP port of its own. Prints `READY <port>`.
 *
 *   node --import tsx bench/servers/aedes.ts
 */
const broker = await Aedes.createBroker();
const server = createServer(broker.handle);
server.listen(0, '127.0.0.1', () => console.log(`READY ${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => broker.close(() => process.exit(0)));
