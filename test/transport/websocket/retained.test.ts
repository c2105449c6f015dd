import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { IncomingHttpHeaders } from 'node:http';
import { Hub } from '../../../pkg/index.js';
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

  it('keeps only the headers keepHeaders names, whatever their case, while authenticate sees them all', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const cookies: Array<string | undefined> = [];
    const { url } = await start({
      keepHeaders: ['X-Tenant'],
      authenticate: (request) => { cookies.push(request.headers.cookie); return null; },
      authorize: ({ request }) => { seen.push(request.headers); return true; },
    });
    const peer = await Peer.open(url, { headers: { 'x-tenant': 'acme', cookie: 'sid=1', 'user-agent': 'a browser' } });
    cleanup(() => peer.close());
    await peer.subscribe('room');
    expect(cookies).toEqual(['sid=1']);
    expect(seen).toEqual([{ 'x-tenant': 'acme' }]);
  });

  it('keeps the same headers for a Server-Sent Events stream', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const { base } = await start({ keepHeaders: ['x-tenant'], logger: false, authorize: ({ request }) => { seen.push(request.headers); return true; } },
      { attach: false, handler: (hub) => (request, response) => hub.handleEventSource(request, response) });
    const stream = await fetch(`${base}/events?channel=room`, { headers: { 'x-tenant': 'acme', cookie: 'sid=1' } });
    cleanup(() => stream.body?.cancel());
    await expect.poll(() => seen.length).toBe(1);
    expect(seen[0]).toEqual({ 'x-tenant': 'acme' });
  });

  it('refuses a keepHeaders that is not \'all\' or a list of header names with a TypeError', () => {
    for (const bad of ['none', [1], ['x tenant'], 'X-Tenant']) {
      expect(() => new Hub({ keepHeaders: bad as never })).toThrow(new TypeError(`livehub: option keepHeaders must be 'all' or an array of header names, got ${JSON.stringify(bad)}`));
    }
  });
});
