import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Server, type ServerOptions } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { announce, backlogArg, portArg, statsHandler } from './stats.js';

/**
 * W8's Socket.IO 4.8 peer (bench/storm-run.ts): bench/servers/socketio.ts's job (rooms as channels,
 * `io.to(room).emit` as the fan-out) with connection-state recovery on, and acks on subscribe and
 * publish so the load generator knows what was published.
 *
 * - Alone, sessions and missed packets live in this process (the in-memory adapter): a restart
 *   loses them, so clients reconnect with a new session and subscribe again.
 * - With REDIS_URL, it is one node of several on `@socket.io/redis-streams-adapter`, the adapter
 *   Socket.IO documents for recovery across servers: packets go through one Redis stream (SIO_STREAM,
 *   capped at 100,000 entries, so it holds more time than livehub's 100 per channel at W8's rate), and
 *   a session is written to Redis when its socket closes, for another node to restore.
 *
 * SIGTERM: `io.close()` (every socket closed as "server shutting down", a reason recovery keeps), then
 * the Redis connection is closed once its queued writes are done, and the process exits.
 */
const stats = statsHandler();
const server = createServer();
server.prependListener('request', (req, res) => { stats(req, res); });
const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : null;
const options: Partial<ServerOptions> = {
  transports: ['websocket'], perMessageDeflate: false, cors: { origin: '*' },
  connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true },
};
if (redis) {
  const prefix = process.env.SIO_STREAM ?? 'sio-bench';
  options.adapter = createAdapter(redis, { streamName: prefix, sessionKeyPrefix: `${prefix}:session:`, maxLen: 100_000 });
}
const io = new Server(server, options);
io.on('connection', (socket) => {
  socket.on('subscribe', (channel: string, ack?: () => void) => {
    void socket.join(channel);
    ack?.();
  });
  socket.on('publish', (m: { channel: string; event: string; data: unknown }, ack?: () => void) => {
    io.to(m.channel).emit('message', { channel: m.channel, type: m.event, data: m.data });
    ack?.();
  });
});
// --backlog N: the listen queue, the same footing as livehub's storm node.
const backlog = backlogArg('socketio-recovery');
server.listen({ port: portArg(), host: '127.0.0.1', ...(backlog ? { backlog } : {}) }, () => announce((server.address() as AddressInfo).port));
process.once('SIGTERM', () => {
  const began = Date.now();
  void io.close()
    .then(() => redis?.quit())
    .then(() => {
      console.error(`socketio-recovery: closed in ${Date.now() - began} ms`);
      process.exit(0);
    }, (error: unknown) => {
      console.error(`socketio-recovery: the shutdown failed: ${(error as Error).stack}`);
      process.exit(1);
    });
});
// SIGUSR2: exit at once (bench/storm-run.ts --storm-prof ends nodes so, and --cpu-prof writes the profile on exit).
process.once('SIGUSR2', () => process.exit(0));
