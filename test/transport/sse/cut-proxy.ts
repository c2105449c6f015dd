import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a server that cuts connections as a network fault would. A request whose
 * URL carries `cut=K` gets only the first K bytes of the server's answer on its first connection
 * (headers and body as they came on the wire), then the connection ends; later connections with the
 * same `cut=K` (the client's reconnects) pass whole. `record=NAME` keeps every byte of the answers
 * to that request, to measure where a cut can fall.
 */
export async function cuttingProxy(port: number) {
  const cut = new Set<string>();
  const recorded = new Map<string, Buffer[]>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    client.once('data', (first) => {
      const line = first.toString('latin1', 0, Math.max(0, first.indexOf('\r\n')));
      const key = /[?&]cut=(\d+)/.exec(line)?.[1];
      const record = /[?&]record=(\w+)/.exec(line)?.[1];
      const limit = key !== undefined && !cut.has(key) ? Number(key) : Infinity;
      if (key !== undefined) cut.add(key);
      const upstream = connect(port, '127.0.0.1');
      sockets.add(upstream);
      upstream.on('close', () => { sockets.delete(upstream); client.destroy(); });
      upstream.on('error', () => {});
      client.on('close', () => upstream.destroy());
      upstream.write(first);
      client.on('data', (chunk) => upstream.write(chunk));
      let forwarded = 0;
      const end = () => {
        client.end(); // what was forwarded is flushed, then the connection ends mid-answer
        upstream.destroy();
      };
      if (limit === 0) return end();
      upstream.on('data', (chunk: Buffer) => {
        if (record !== undefined) (recorded.get(record) ?? recorded.set(record, []).get(record)!).push(chunk);
        if (forwarded >= limit) return;
        const take = Math.min(chunk.length, limit - forwarded);
        forwarded += take;
        client.write(take === chunk.length ? chunk : chunk.subarray(0, take));
        if (forwarded >= limit) end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** The bytes answered so far to the request with `record=name`. */
    recorded: (name: string) => Buffer.concat(recorded.get(name) ?? []),
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
