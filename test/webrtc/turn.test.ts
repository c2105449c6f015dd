import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuthError } from '../../pkg/index.js';
import { turnCredential, webrtcSignalling } from '../../pkg/webrtc/index.js';
import { perTest } from '../helpers.js';
import { allocate, startCoturn } from './coturn.js';
import { byQuery, SignalPeer } from './peers.js';

const { start, cleanup } = perTest();

describe('TURN credentials', () => {
  it('are username "expiry:userId" and the base64 HMAC-SHA1 of it with the secret', () => {
    const now = Date.UTC(2030, 0, 1);
    const { username, credential, expiresAt } = turnCredential('secret', 'ann', 3_600_000, now);
    expect(username).toBe(`${now / 1000 + 3600}:ann`);
    expect(credential).toBe(createHmac('sha1', 'secret').update(username).digest('base64'));
    expect(expiresAt).toBe(now + 3_600_000);
  });

  it('issued on the connection and over HTTP get a TURN allocation from coturn, and an expired one is refused', async () => {
    const coturn = await startCoturn();
    cleanup(() => coturn.stop());
    const turn = { secret: coturn.secret, urls: `turn:127.0.0.1:${coturn.port}?transport=udp`, ttl: 600_000 };
    let signalling!: ReturnType<typeof webrtcSignalling>;
    const s = await start({ authenticate: byQuery, logger: false }, {
      express: (app, hub) => {
        signalling = webrtcSignalling(hub, { iceServers: [{ urls: 'stun:127.0.0.1:3478' }], turn });
        app.get('/ice-servers', (req, res) => signalling.iceServersHandler({ authenticate: byQuery })(req, res));
      },
    });
    const ann = await SignalPeer.as(s.url, 'ann');
    cleanup(() => ann.close());

    const onConnection = await ann.ask('webrtc:ice-servers', {});
    expect(onConnection.type).toBe('reply');
    const [stun, relay] = onConnection.data.iceServers;
    expect(stun).toEqual({ urls: 'stun:127.0.0.1:3478' });
    expect(relay).toMatchObject({ urls: turn.urls, username: expect.stringMatching(/^\d+:ann$/) });
    expect(onConnection.data.expiresAt).toBeGreaterThan(Date.now() + 590_000);
    expect((await ann.join('lobby')).iceServers).toHaveLength(2);
    const overHttp = await (await fetch(`${s.base}/ice-servers?user=bob`)).json();
    const bobs = overHttp.iceServers[1];
    expect(bobs.username).toMatch(/:bob$/);
    const expired = turnCredential(coturn.secret, 'ann', 1000, Date.now() - 60_000);

    const [anns, bobsAllocation, refused, forged] = await Promise.all([
      allocate(coturn.port, relay.username, relay.credential),
      allocate(coturn.port, bobs.username, bobs.credential),
      allocate(coturn.port, expired.username, expired.credential),
      allocate(coturn.port, relay.username, 'not-the-password'),
    ]);
    expect(anns).toMatchObject({ ok: true });
    expect(bobsAllocation).toMatchObject({ ok: true });
    expect(refused.ok).toBe(false);
    expect(forged.ok).toBe(false);
  }, 40_000);

  it('gives anonymous connections the static servers alone, and answers a refused credential 401 and another method 405', async () => {
    let signalling!: ReturnType<typeof webrtcSignalling>;
    const s = await start({ authenticate: byQuery, logger: false }, {
      express: (app, hub) => {
        signalling = webrtcSignalling(hub, { authorize: () => true, iceServers: [{ urls: 'stun:stun.example:3478' }], turn: { secret: 'x', urls: 'turn:turn.example' } });
        const handler = signalling.iceServersHandler({
          authenticate: (req) => { if (req.headers.authorization === 'Bearer bad') throw new AuthError(401, 'the token expired'); return byQuery(req); },
        });
        app.all('/ice-servers', (req, res) => handler(req, res));
      },
    });
    const anonymous = await SignalPeer.as(s.url);
    cleanup(() => anonymous.close());
    expect((await anonymous.ask('webrtc:ice-servers', {})).data).toEqual({ iceServers: [{ urls: 'stun:stun.example:3478' }], expiresAt: null });
    expect(await (await fetch(`${s.base}/ice-servers`)).json()).toEqual({ iceServers: [{ urls: 'stun:stun.example:3478' }], expiresAt: null });
    const refused = await fetch(`${s.base}/ice-servers`, { headers: { authorization: 'Bearer bad' } });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: { code: 'unauthorized', message: expect.stringContaining('the token expired') } });
    const posted = await fetch(`${s.base}/ice-servers`, { method: 'POST' });
    expect(posted.status).toBe(405);
    expect((await posted.json()).error.code).toBe('method_not_allowed');
  });

  it('throws a TypeError for a TURN option that is wrong or unknown', async () => {
    const s = await start({ logger: false });
    expect(() => webrtcSignalling(s.hub, { turn: { secret: 'x', urls: 'http://turn.example' } })).toThrow(/turn.urls must be stun:/);
    expect(() => webrtcSignalling(s.hub, { turn: { secret: 'x', urls: 'turn:t', tll: 5 } as never })).toThrow(/unknown option 'tll'.*'ttl'/);
    expect(() => webrtcSignalling(s.hub, { iceServers: [{ url: 'stun:x' }] as never })).toThrow(/unknown option 'url'.*'urls'/);
  });
});
