import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { IncomingHttpHeaders } from 'node:http';
import { Peer, perTest } from '../../helpers.js';

/**
 * What every open WebSocket connection keeps for its whole life, beyond what ws and Node keep: at
 * 100k idle connections each listener array and header string is megabytes.
 */
const { start, cleanup } = perTest();

describe('what an upgraded connection keeps', () => {
  it('leaves ws the only error listener on the socket once it owns it', async () => {
    const { server, url } = await start();
    let upgraded: Duplex | null = null;
    server.prependListener('upgrade', (_request, socket: Duplex) => { upgraded = socket; });
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    await peer.subscribe('room'); // the hub has adopted the connection
    const listeners = upgraded!.listeners('error');
    expect(listeners.map((f) => f.name)).toEqual(['socketOnError']);
  });

  it('keeps the request headers for policies, without the handshake\'s own', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const { url } = await start({ authorize: ({ request }) => { seen.push(request.headers); return true; } });
    const peer = await Peer.open(url, { headers: { 'x-tenant': 'acme', cookie: 'sid=1' } });
    cleanup(() => peer.close());
    await peer.subscribe('room');
    expect(seen).toHaveLength(1);
    const headers = seen[0]!;
    expect(headers['x-tenant']).toBe('acme');
    expect(headers.cookie).toBe('sid=1');
    expect(headers.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(headers['sec-websocket-protocol']).toBe('livehub.v1'); // some apps carry a token there
    for (const name of ['sec-websocket-key', 'sec-websocket-version', 'upgrade', 'connection']) expect(headers[name]).toBeUndefined();
  });
});
