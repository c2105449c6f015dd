// One hub node on the PostgreSQL engine, as its own process, for tests that kill nodes with
// SIGKILL: DATABASE_URL names the database; prints `READY <port>` once it listens on 127.0.0.1.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PostgresEngine } from '../../pkg/engine/postgres-index.js';
import { Hub } from '../../pkg/index.js';

const hub = new Hub({ logger: false, engine: new PostgresEngine({ connectionString: process.env.DATABASE_URL, pollInterval: 200 }) });
const server = createServer((_req, res) => { res.writeHead(404); res.end(); });
hub.attach(server, { path: '/ws' });
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
