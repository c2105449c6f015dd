import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { announce, portArg, statsHandler } from './stats.js';

/** Socket.IO 4.8 doing the same job: rooms as channels, `io.to(room).emit` as the fan-out. */
const stats = statsHandler();
const server = createServer();
server.prependListener('request', (req, res) => { stats(req, res); });
const io = new Server(server, { transports: ['websocket'], perMessageDeflate: false, cors: { origin: '*' } });
io.on('connection', (socket) => {
  socket.on('subscribe', (channel: string, ack?: () => void) => {
    socket.join(channel);
    ack?.();
  });
  socket.on('publish', (m: { channel: string; event: string; data: unknown }) => {
    io.to(m.channel).emit('message', { channel: m.channel, type: m.event, data: m.data });
  });
});
server.listen(portArg(), '127.0.0.1', () => announce((server.address() as AddressInfo).port));
