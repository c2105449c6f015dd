import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a server that cuts connections as a network fault would. The first
 * connection whose request URL carries `cut=K` gets only the first K bytes of the server's answer
 * (headers and body as they came on the wire), then the connection ends; later connections with the
 * same `cut=K` (the client's reconnects, its POSTs) pass whole. A GET with `record=NAME` has every
 * byte of its answer kept, to measure where a cut can fall.
 */
export async function cuttingProxy(port: number) {
  const cut = new Set<string>();
  /** Keys whose first connection is over: cut, or closed by either end before the cut. */
  const over = new Set<string>();
  const recorded = new Map<string, Buffer[]>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    client.once('data', (first: Buffer) => {
      const line = first.toString('latin1', 0, Math.max(0, first.indexOf('\r\n')));
      const key = /[?&]cut=(\d+)/.exec(line)?.[1];
      const record = line.startsWith('GET ') ? /[?&]record=(\w+)/.exec(line)?.[1] : undefined;
      const limit = key !== undefined && !cut.has(key) ? Number(key) : Infinity;
      if (key !== undefined && limit !== Infinity) {
        cut.add(key);
        client.on('close', () => over.add(key));
      }
      // A stream's GET on a connection of its own: a client's pool would send it on one a POST or a
      // page load opened (and so not cut it), so those ask the server to close theirs.
      if (!line.startsWith('GET ') || (key === undefined && record === undefined)) first = Buffer.concat([first.subarray(0, line.length + 2), Buffer.from('Connection: close\r\n'), first.subarray(line.length + 2)]);
      const upstream = connect(port, '127.0.0.1');
      sockets.add(upstream);
      upstream.on('close', () => { sockets.delete(upstream); client.destroy(); });
      upstream.on('error', () => {});
      client.on('close', () => upstream.destroy());
      upstream.write(first);
      client.on('data', (chunk) => upstream.write(chunk));
      let forwarded = 0;
      const end = () => {
        client.end(() => client.destroy()); // what was forwarded is flushed, then the connection ends mid-answer
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
    /** Whether the connection to cut for `cut=key` is over (cut, or closed before it came to that). */
    over: (key: number) => over.has(String(key)),
    /** The bytes answered so far to the request with `record=name`. */
    recorded: (name: string) => Buffer.concat(recorded.get(name) ?? []),
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
