import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient, type WebSocketConstructor } from '../../client/index.js';
import { AuthError, CloseCode, jwtAuthenticator } from '../../pkg/index.js';
import { closeServer, Peer, sleep, startHub, subscribers } from '../helpers.js';
import { hostileHub } from './fixture.js';
import { RawPeer } from './raw.js';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long!';
const key = new TextEncoder().encode(SECRET);
const sign = (claims: Record<string, unknown>, options: { exp?: string | number; aud?: string; alg?: string } = {}) => {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'HS256' }).setIssuedAt().setSubject(String(claims.sub ?? 'alice'));
  if (options.exp !== undefined) jwt.setExpirationTime(options.exp);
  if (options.aud) jwt.setAudience(options.aud);
  return jwt.sign(key);
};
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function status(port: number, path: string, headers: Record<string, string> = {}) {
  const peer = await RawPeer.connect(port);
  peer.socket.write(RawPeer.request(path, headers));
  const code = await peer.waitStatus();
  return { code, peer };
}

describe('authentication on the upgrade', () => {
  const errors: Error[] = [];
  let h: Awaited<ReturnType<typeof hostileHub>>;
  beforeAll(async () => {
    h = await hostileHub({
      authenticate: jwtAuthenticator({ key: SECRET, audience: 'livehub-test' }),
      onError: (e) => errors.push(e),
      maxConnectionsPerUser: 3,
    }, { canaryQuery: `token=${await sign({ sub: 'canary' }, { aud: 'livehub-test', exp: '1h' })}` });
  });
  afterAll(() => h.finish());

  it.each([
    ['no token', async () => ({})],
    ['a forged signature', async () => ({ Authorization: `Bearer ${(await sign({ sub: 'alice' }, { aud: 'livehub-test' })).slice(0, -4)}AAAA` })],
    ['alg none', async () => ({ Authorization: `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', aud: 'livehub-test' })}.` })],
    ['an expired token', async () => ({ Authorization: `Bearer ${await sign({ sub: 'alice' }, { aud: 'livehub-test', exp: Math.floor(Date.now() / 1000) - 60 })}` })],
    ['a wrong audience', async () => ({ Authorization: `Bearer ${await sign({ sub: 'alice' }, { aud: 'someone-else', exp: '1h' })}` })],
    ['a validly signed token without exp', async () => ({ Authorization: `Bearer ${await sign({ sub: 'alice' }, { aud: 'livehub-test' })}` })],
    ['garbage', async () => ({ Authorization: 'Bearer not.a.jwt' })],
  ])('refuses %s with 401 and leaves nothing behind', async (_name, headers) => {
    const hdrs: Record<string, string> = await headers();
    const before = h.hub.info().clients;
    const { code, peer } = await status(h.port, '/ws', hdrs);
    expect(code).toBe(401);
    const token = hdrs.Authorization?.slice(7);
    if (token) {
      expect(peer.response).not.toContain(token);
      for (const e of errors) expect(String(e.message) + String(e.stack)).not.toContain(token);
    }
    expect(h.hub.info().clients).toBe(before);
    // A sentinel: a connection accepted after the refusal counts one more, no more.
    const after = await Peer.open(`${h.url}?token=${await sign({ sub: 'sentinel' }, { aud: 'livehub-test', exp: '1h' })}`);
    await after.sync();
    expect(h.hub.info().clients).toBe(before + 1);
    after.close();
    await expect.poll(() => h.hub.info().clients).toBe(before);
  });

  it('accepts a valid token from the Authorization header, a cookie, or the query', async () => {
    const token = await sign({ sub: 'alice' }, { aud: 'livehub-test', exp: '1h' });
    const viaHeader = await RawPeer.open(h.port, '/ws', { Authorization: `Bearer ${token}` });
    const viaCookie = await RawPeer.open(h.port, '/ws', { Cookie: `theme=dark; livehub_token=${token}` });
    const viaQuery = await RawPeer.open(h.port, `/ws?token=${token}`);
    await expect.poll(() => h.hub.connectedClients('alice')).toHaveLength(3);
    expect(await h.hub.isUserConnected('alice')).toBe(true);
    expect(await h.hub.connectedClients('alice')).toHaveLength(3);
    // Past maxConnectionsPerUser: 429.
    expect((await status(h.port, `/ws?token=${token}`)).code).toBe(429);
    for (const p of [viaHeader, viaCookie, viaQuery]) p.destroy();
    await expect.poll(() => h.hub.isUserConnected('alice')).toBe(false);
    // The user's slots come back when their sockets close.
    const again = await RawPeer.open(h.port, `/ws?token=${token}`);
    expect(again.status).toBe(101);
    again.destroy();
  });

  it('delivers sendToUser to every connection of that user, and only theirs', async () => {
    const alice = await Peer.open(`${h.url}?token=${await sign({ sub: 'alice' }, { aud: 'livehub-test', exp: '1h' })}`);
    const alice2 = await Peer.open(`${h.url}?token=${await sign({ sub: 'alice' }, { aud: 'livehub-test', exp: '1h' })}`);
    const bob = await Peer.open(`${h.url}?token=${await sign({ sub: 'bob' }, { aud: 'livehub-test', exp: '1h' })}`);
    await expect.poll(() => h.hub.connectedClients('alice')).toHaveLength(2);
    h.hub.sendToUser('alice', 'balance', { amount: 10 });
    for (const p of [alice, alice2]) {
      expect(await p.next((m) => m.channel === 'user:alice')).toEqual({ channel: 'user:alice', type: 'balance', data: { amount: 10 }, offset: 1 });
    }
    bob.send({ type: 'subscribe', channel: 'user:alice', id: 'peek' });
    expect(await bob.next((m) => m.type === 'error')).toMatchObject({ code: 'forbidden', id: 'peek' });
    await bob.sync();
    expect(bob.messages.filter((m) => m.channel === 'user:alice')).toEqual([]);
    for (const p of [alice, alice2, bob]) p.close();
  });

  it('closes every connection of a user with 4503 on disconnectUser, and the client stays down', async () => {
    const token = await sign({ sub: 'carol' }, { aud: 'livehub-test', exp: '1h' });
    const client = new LiveClient(h.url, { WebSocket: WebSocket as unknown as WebSocketConstructor, getToken: () => token, reconnect: { delay: 10 } });
    const raw = await Peer.open(`${h.url}?token=${token}`);
    await expect.poll(() => client.status).toBe('open');
    h.hub.disconnectUser('carol', 'logged out');
    expect((await raw.whenClosed()).code).toBe(CloseCode.Disconnected);
    await expect.poll(() => client.status).toBe('closed');
    // Kept sleep: staying down is the behaviour; 100 ms is ten reconnect delays without a reconnect.
    await sleep(100);
    expect(client.status).toBe('closed');
    await expect.poll(() => h.hub.isUserConnected('carol')).toBe(false);
    client.dispose();
  });
});

describe('token lifetime', () => {
  it('refuses with 500 an Identity whose expiresAt is not a time, and logs why, rather than never expiring it', async () => {
    const h = await startHub({ authenticate: (request) => (request.url?.includes('bad') ? { userId: 'erin', expiresAt: '2026-12-01T00:00:00Z' as unknown as number } : null) }, { record: true });
    try {
      await expect(Peer.open(`${h.url}?bad`)).rejects.toThrow('HTTP 500');
      expect(h.logs.some((l) => l.level === 'error' && l.message.includes("an Identity's expiresAt must be milliseconds since the epoch") && l.message.includes('2026-12-01'))).toBe(true);
      const other = await Peer.open(h.url); // the hub serves everyone else
      await other.subscribe('room');
      other.close();
    } finally {
      await h.stop();
    }
  });

  it('closes a connection whose token expires with 4002; the client fetches a new token and resubscribes', async () => {
    const h = await hostileHub({ authenticate: jwtAuthenticator({ key: SECRET, clockTolerance: 0 }) },
      { canaryQuery: `token=${await sign({ sub: 'canary' }, { exp: '1h' })}` });
    let issued = 0;
    const getToken = async () => { issued++; return sign({ sub: 'dave' }, { exp: Math.floor(Date.now() / 1000) + 2 }); };
    const closes: number[] = [];
    const client = new LiveClient(h.url, { WebSocket: WebSocket as unknown as WebSocketConstructor, getToken });
    client.events.on('close', (e) => closes.push(e.code));
    const seen: unknown[] = [];
    client.on('news', (d) => seen.push(d));
    await expect.poll(() => client.status).toBe('open');
    await expect.poll(() => closes, { timeout: 5000 }).toContain(CloseCode.TokenExpired);
    await expect.poll(() => client.status).toBe('open');
    expect(issued).toBeGreaterThanOrEqual(2);
    await expect.poll(() => subscribers(h.hub, 'news')).toBe(1); // resubscribed
    h.hub.publish('news', 'n', 'after refresh');
    await expect.poll(() => seen).toEqual(['after refresh']);
    client.dispose();
    await h.finish();
  }, 15_000);
});

describe('key types', () => {
  it.each(['RS256', 'ES256'] as const)('verifies %s tokens with a public key', async (alg) => {
    const pair = await generateKeyPair(alg);
    const token = await new SignJWT({}).setProtectedHeader({ alg }).setSubject('erin').setExpirationTime('1h').sign(pair.privateKey);
    const h = await hostileHub({ authenticate: jwtAuthenticator({ key: pair.publicKey }) }, { canaryQuery: `token=${token}` });
    const ok = await RawPeer.open(h.port, `/ws?token=${token}`);
    ok.destroy();
    const hsToken = await sign({ sub: 'erin' });
    expect((await status(h.port, `/ws?token=${hsToken}`)).code).toBe(401);
    await h.finish();
  });

  it('verifies tokens against a JWKS URL', async () => {
    const pair = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const jwks = createServer((_req, res) => { res.setHeader('Content-Type', 'application/json'); res.end(JSON.stringify({ keys: [jwk] })); });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const url = new URL(`http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`);
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject('frank').setExpirationTime('1h').sign(pair.privateKey);
    const h = await hostileHub({ authenticate: jwtAuthenticator({ key: url }) }, { canaryQuery: `token=${token}` });
    const ok = await RawPeer.open(h.port, '/ws', { Authorization: `Bearer ${token}` });
    ok.destroy();
    await h.finish();
    await closeServer(jwks);
  });

  it('refuses weak HS256 secrets and bad options at once', () => {
    expect(() => jwtAuthenticator({ key: 'short' })).toThrow(TypeError);
    expect(() => jwtAuthenticator({} as never)).toThrow(TypeError);
    expect(() => jwtAuthenticator({ key: SECRET, requireExp: 'no' as never })).toThrow(TypeError);
    expect(() => jwtAuthenticator({ key: SECRET, verify: true as never })).toThrow(TypeError);
  });

  it('throws a TypeError naming an unknown option and the closest valid one', () => {
    expect(() => jwtAuthenticator({ key: SECRET, audiance: 'x' } as never)).toThrow(/unknown option 'audiance'.*did you mean 'audience'/);
    expect(() => jwtAuthenticator({ key: SECRET, requireExpiry: false } as never)).toThrow(/unknown option 'requireExpiry'.*'requireExp'/);
  });

  it('answers with the status of an AuthError thrown by a custom authenticator', async () => {
    const h = await hostileHub({ authenticate: (req) => { if (req.headers['x-banned']) throw new AuthError(403); return null; } });
    expect((await status(h.port, '/ws', { 'X-Banned': '1' })).code).toBe(403);
    const anonymous = await RawPeer.open(h.port);
    anonymous.destroy();
    await h.finish();
  });
});

describe('channel authorization', () => {
  it('asks authorize with the identity for subscribe and publish, and denies with frames', async () => {
    const h = await hostileHub({
      authenticate: jwtAuthenticator({ key: SECRET }),
      authorize: ({ action, channel, identity }) =>
        channel === 'private-staff' ? identity?.claims?.role === 'staff' : action === 'subscribe',
    }, { canaryQuery: `token=${await sign({ sub: 'canary' }, { exp: '1h' })}` });
    const staff = await Peer.open(`${h.url}?token=${await sign({ sub: 'gina', role: 'staff' }, { exp: '1h' })}`);
    const guest = await Peer.open(`${h.url}?token=${await sign({ sub: 'hank', role: 'guest' }, { exp: '1h' })}`);
    await staff.subscribe('private-staff');
    guest.send({ type: 'subscribe', channel: 'private-staff', id: 1 });
    expect(await guest.next((m) => m.type === 'error')).toMatchObject({ code: 'forbidden', id: 1 });
    staff.send({ type: 'publish', channel: 'private-staff', event: 'memo', data: 'hi', id: 2 });
    expect(await staff.next((m) => m.type === 'ack')).toMatchObject({ type: 'ack', id: 2 });
    expect(await staff.next((m) => m.channel === 'private-staff')).toMatchObject({ type: 'memo', data: 'hi' });
    guest.send({ type: 'publish', channel: 'lobby', event: 'x', data: 1, id: 3 });
    expect(await guest.next((m) => m.type === 'error' && m.id === 3)).toMatchObject({ code: 'forbidden' });
    expect(guest.closed).toBeNull();
    staff.close();
    guest.close();
    await h.finish();
  });
});

describe('tokens without exp and the verify hook', () => {
  it('accepts a token without exp only when requireExp is false', async () => {
    const token = await sign({ sub: 'ivan' });
    const h = await hostileHub({ authenticate: jwtAuthenticator({ key: SECRET, requireExp: false }) }, { canaryQuery: `token=${token}` });
    const ok = await RawPeer.open(h.port, `/ws?token=${token}`);
    expect(ok.status).toBe(101);
    ok.destroy();
    await h.finish();
  });

  it('asks verify with the verified payload and the request after the signature, and refuses with 401 unless it says true', async () => {
    const revoked = new Set<string>();
    const asked: Array<{ sub: unknown; ver: unknown; url: string | undefined }> = [];
    const authenticate = jwtAuthenticator({
      key: SECRET,
      verify: async (payload, request) => {
        asked.push({ sub: payload.sub, ver: payload.ver, url: request.url });
        return !revoked.has(`${payload.sub}:${payload.ver}`);
      },
    });
    const canary = await sign({ sub: 'canary', ver: 1 }, { exp: '1h' });
    const h = await hostileHub({ authenticate }, { canaryQuery: `token=${canary}` });
    const token = await sign({ sub: 'judy', ver: 1 }, { exp: '1h' });
    const ok = await RawPeer.open(h.port, `/ws?token=${token}`);
    expect(ok.status).toBe(101);
    ok.destroy();
    expect(asked).toContainEqual({ sub: 'judy', ver: 1, url: `/ws?token=${token}` });

    revoked.add('judy:1');
    expect((await status(h.port, `/ws?token=${token}`)).code).toBe(401);
    // A forged token never reaches the hook.
    const before = asked.length;
    expect((await status(h.port, `/ws?token=${token.slice(0, -4)}AAAA`)).code).toBe(401);
    expect(asked).toHaveLength(before);
    // A new version is accepted.
    const fresh = await RawPeer.open(h.port, `/ws?token=${await sign({ sub: 'judy', ver: 2 }, { exp: '1h' })}`);
    expect(fresh.status).toBe(101);
    fresh.destroy();
    await h.finish();
  });

  it('answers 401 and reports the error when verify throws, and keeps the status of an AuthError it throws', async () => {
    const errors: Error[] = [];
    const authenticate = jwtAuthenticator({
      key: SECRET,
      verify: (payload) => {
        if (payload.sub === 'down') throw new AuthError(503, 'session store unreachable');
        if (payload.sub === 'boom') throw new Error('session store broke');
        return true;
      },
    });
    const h = await hostileHub({ authenticate, onError: (e) => errors.push(e), logger: false }, { canaryQuery: `token=${await sign({ sub: 'canary' }, { exp: '1h' })}` });
    const boom = await sign({ sub: 'boom' }, { exp: '1h' });
    const { code, peer } = await status(h.port, `/ws?token=${boom}`);
    expect(code).toBe(401);
    expect(peer.response).not.toContain('session store broke');
    await expect.poll(() => errors.map((e) => e.message).join(' ')).toContain('session store broke');
    expect((await status(h.port, `/ws?token=${await sign({ sub: 'down' }, { exp: '1h' })}`)).code).toBe(503);
    await h.finish();
  });
});
