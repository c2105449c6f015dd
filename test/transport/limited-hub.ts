import { createServer } from 'node:http';
import { Hub } from '../../pkg/index.js';

/**
 * A hub in a process of its own, for test/transport/file-limit.test.ts, which starts it under a low
 * open-files limit (`ulimit -n`). Options come as JSON in argv[2]; it prints `PORT <n>` once
 * listening, and logs as an app would (to stderr).
 */
const hub = new Hub(JSON.parse(process.argv[2] ?? '{}'));
const server = createServer();
hub.attach(server, { path: '/ws' });
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`PORT ${typeof address === 'object' && address ? address.port : 0}`);
});
