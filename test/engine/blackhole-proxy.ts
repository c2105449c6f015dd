import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of Redis that can blackhole the pub/sub connections passing through it: the
 * connection stays open, and nothing passes either way (a half-dead connection, as a broken NAT or
 * firewall leaves it). A connection counts as pub/sub once a SUBSCRIBE command went through it.
 */
export async function blackholeProxy(target: { host: string; port: number }) {
  interface Link { client: Socket; upstream: Socket; subscriber: boolean; holed: boolean }
  const links = new Set<Link>();
  const subscribeCommand = /\*\d+\r\n\$9\r\nsubscribe\r\n/i;
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const link: Link = { client, upstream, subscriber: false, holed: false };
    links.add(link);
    client.on('data', (bytes) => {
      if (!link.subscriber && subscribeCommand.test(bytes.toString('latin1'))) link.subscriber = true;
      if (!link.holed) upstream.write(bytes);
    });
    upstream.on('data', (bytes) => { if (!link.holed) client.write(bytes); });
    const end = () => { links.delete(link); client.destroy(); upstream.destroy(); };
    for (const socket of [client, upstream]) { socket.on('close', end); socket.on('error', end); }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    /** Blackholes every pub/sub connection open now; returns how many. Later connections pass. */
    blackholeSubscribers(): number {
      let count = 0;
      for (const link of links) if (link.subscriber && !link.holed) { link.holed = true; count++; }
      return count;
    },
    /** Blackholes every connection open now (commands and pub/sub); returns how many. Later connections pass. */
    blackholeAll(): number {
      let count = 0;
      for (const link of links) if (!link.holed) { link.holed = true; count++; }
      return count;
    },
    /** Pub/sub connections open and passing traffic. */
    liveSubscribers(): number {
      return [...links].filter((link) => link.subscriber && !link.holed).length;
    },
    close: () => new Promise<void>((resolve) => {
      for (const link of links) { link.client.destroy(); link.upstream.destroy(); }
      server.close(() => resolve());
    }),
  };
}
