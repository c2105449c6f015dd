import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** What the proxy does with its n-th connection (1-based). */
export type Gate = 'forward' | 'refuse' | 'stall';

/**
 * A TCP proxy on 127.0.0.1, port 0, in front of `targetPort`: each connection is forwarded, refused
 * (closed at once) or stalled (accepted, its bytes read and never answered: a half-dead load
 * balancer, a proxy that never completes the upgrade), as `plan(n)` says. `silence()` turns the
 * connections forwarded so far into stalled ones: a network gone silent, without a FIN either way.
 */
export async function gateProxy(targetPort: number, plan: (n: number) => Gate) {
  const sockets = new Set<Socket>();
  const forwarded = new Set<[Socket, Socket]>();
  const seen: Gate[] = [];
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  const server = createServer((socket) => {
    track(socket);
    const gate = plan(seen.length + 1);
    seen.push(gate);
    if (gate === 'refuse') return socket.destroy();
    if (gate === 'stall') return void socket.resume();
    const upstream = connect(targetPort, '127.0.0.1');
    track(upstream);
    socket.pipe(upstream).pipe(socket);
    const pair: [Socket, Socket] = [socket, upstream];
    forwarded.add(pair);
    upstream.on('close', () => { forwarded.delete(pair); socket.destroy(); });
    socket.on('close', () => { forwarded.delete(pair); upstream.destroy(); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    /** The gate each connection got, in order. */
    seen,
    /** Stops forwarding on every connection forwarded so far, closing none: what either side sends is read and dropped. */
    silence() {
      for (const [socket, upstream] of forwarded) {
        socket.unpipe(upstream);
        upstream.unpipe(socket);
        socket.resume();
        upstream.resume();
      }
      forwarded.clear();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
