import { describe, expect, it } from 'vitest';
import { Peer } from '../helpers.js';
import { hostileHub } from './fixture.js';
import { RawPeer, until } from './raw.js';

describe('hostile handshakes', () => {
  it.each([
    ['a foreign origin', 'https://evil.example'],
    ['the "null" origin', 'null'],
    ['a look-alike suffix of the host', 'http://127.0.0.1.evil.example'],
    ['a look-alike with the right host as a prefix', 'http://127.0.0.1:1@evil.example'],
    ['a non-http scheme', 'file://127.0.0.1'],
  ])('refuses %s with 403 before the upgrade', async (_name, origin) => {
    const h = await hostileHub();
    const peer = await RawPeer.connect(h.port);
    peer.socket.write(RawPeer.request('/ws', { Origin: origin }));
    expect(await peer.waitStatus()).toBe(403);
    await until(() => peer.ended);
    expect(peer.ended).toBe(true);
    expect(h.hub.info().clients).toBe(1); // the canary only
    await h.finish();
  });

  it.each([
    ['a POST', RawPeer.request('/ws', {}, 'POST'), 400],
    ['a short key', RawPeer.request('/ws', { 'Sec-WebSocket-Key': 'abc' }), 400],
    ['no key', RawPeer.request('/ws', { 'Sec-WebSocket-Key': null }), 400],
    ['version 8', RawPeer.request('/ws', { 'Sec-WebSocket-Version': '8' }), 400],
    ['an unknown path', RawPeer.request('/nope'), 404],
    ['garbage instead of HTTP', 'HELLO\r\n\r\n', 400],
  ])('answers %s with HTTP %i and keeps serving', async (_name, request, status) => {
    const h = await hostileHub();
    const peer = await RawPeer.connect(h.port);
    peer.socket.write(request);
    expect(await peer.waitStatus()).toBe(status);
    await h.finish();
  });

  it.each([
    ['a subprotocol header of 32,000 spaces', { 'Sec-WebSocket-Protocol': ' '.repeat(32_000) }, [400, 431]],
    ['a subprotocol header of 7,000 commas and spaces', { 'Sec-WebSocket-Protocol': ', '.repeat(7_000) }, [400]],
    ['extensions naming constructor and __proto__ with unclosed quotes', {
      'Sec-WebSocket-Extensions': 'constructor; __proto__="x; permessage-deflate; client_max_window_bits="' + '"'.repeat(5000),
    }, [101, 400]],
  ])('answers %s at once, and keeps serving', async (_name, headers, statuses) => {
    const h = await hostileHub({ perMessageDeflate: true });
    const peer = await RawPeer.connect(h.port);
    const started = process.hrtime.bigint();
    peer.socket.write(RawPeer.request('/ws', headers as Record<string, string>));
    const status = await peer.waitStatus(2000);
    const took = Number(process.hrtime.bigint() - started) / 1e6;
    expect(statuses).toContain(status);
    // A backtracking parser would take seconds here; this is a bound on a catastrophe, not a speed test.
    expect(took).toBeLessThan(1000);
    peer.destroy();
    await h.finish();
  });

  it('answers a header flood with 431 while a legitimate client connects', async () => {
    const h = await hostileHub();
    const peer = await RawPeer.connect(h.port);
    const flood: Record<string, string> = {};
    for (let i = 0; i < 400; i++) flood[`X-Flood-${i}`] = 'x'.repeat(100);
    peer.socket.write(RawPeer.request('/ws', flood));
    expect(await peer.waitStatus()).toBe(431);
    const legit = await Peer.open(h.url);
    legit.close();
    await h.finish();
  });

  it('lets a legitimate client in during a slowloris on the upgrade, and drops the slowloris at the headers timeout', async () => {
    const h = await hostileHub({}, { server: { headersTimeout: 1000, requestTimeout: 1000, connectionsCheckingInterval: 100 } });
    const slow = await RawPeer.connect(h.port);
    const request = RawPeer.request('/ws');
    let i = 0;
    const drip = setInterval(() => { if (!slow.ended && i < request.length - 4) slow.socket.write(request[i++]!); }, 50);
    await expect.poll(() => i).toBeGreaterThanOrEqual(4); // the slowloris is under way
    const legit = await Peer.open(h.url);
    legit.send({ type: 'ping' });
    await legit.next((m) => m.type === 'pong');
    legit.close();
    await until(() => slow.ended, 4000);
    clearInterval(drip);
    expect(slow.ended).toBe(true);
    expect(slow.status === 0 || slow.status === 408).toBe(true);
    await h.finish();
  });

  it('refuses connections past maxConnectionsPerIp with 429 and past maxConnections with 503', async () => {
    const h = await hostileHub({ maxConnectionsPerIp: 4, maxConnections: 1000 });
    const held = [await RawPeer.open(h.port), await RawPeer.open(h.port), await RawPeer.open(h.port)]; // + canary = 4
    const refused = await RawPeer.connect(h.port);
    refused.socket.write(RawPeer.request('/ws'));
    expect(await refused.waitStatus()).toBe(429);
    held[0]!.destroy();
    await expect.poll(() => h.hub.info().clients).toBe(3);
    const again = await RawPeer.open(h.port); // the slot came back
    again.destroy();
    for (const p of held) p.destroy();
    await expect.poll(() => h.hub.info().clients).toBe(1); // the canary's, for finish() to connect again
    await h.finish();
  });

  it('counts connections behind a proxy under the address clientIp gives, and falls back to the socket when it fails', async () => {
    const errors: Error[] = [];
    const h = await hostileHub({
      maxConnectionsPerIp: 2,
      onError: (error) => errors.push(error),
      clientIp: (request) => {
        const forwarded = request.headers['x-real-ip'];
        if (forwarded === 'throw') throw new Error('bad header');
        return typeof forwarded === 'string' ? forwarded : request.socket.remoteAddress!;
      },
    });
    const first = [await RawPeer.open(h.port, '/ws', { 'X-Real-IP': '10.0.0.1' }), await RawPeer.open(h.port, '/ws', { 'X-Real-IP': '10.0.0.1' })];
    const third = await RawPeer.connect(h.port);
    third.socket.write(RawPeer.request('/ws', { 'X-Real-IP': '10.0.0.1' }));
    expect(await third.waitStatus()).toBe(429);
    const other = await RawPeer.open(h.port, '/ws', { 'X-Real-IP': '10.0.0.2' }); // another client of the proxy
    // A failing hook counts the connection under the socket's address (127.0.0.1: the canary and this one).
    const fallback = await RawPeer.open(h.port, '/ws', { 'X-Real-IP': 'throw' });
    expect(errors.map((e) => e.message)).toEqual(['bad header']);
    const full = await RawPeer.connect(h.port);
    full.socket.write(RawPeer.request('/ws'));
    expect(await full.waitStatus()).toBe(429);
    for (const p of [...first, other, fallback]) p.destroy();
    await expect.poll(() => h.hub.info().clients).toBe(1); // the canary's, for finish() to connect again
    await h.finish();
  });

  it('refuses past maxConnections with 503 and Retry-After', async () => {
    const h = await hostileHub({ maxConnections: 2 });
    const one = await RawPeer.open(h.port);
    const refused = await RawPeer.connect(h.port);
    refused.socket.write(RawPeer.request('/ws'));
    expect(await refused.waitStatus()).toBe(503);
    expect(refused.response).toMatch(/Retry-After: \d+/i);
    one.destroy();
    await expect.poll(() => h.hub.info().clients).toBe(1); // the canary's, for finish() to connect again
    await h.finish();
  });
});
