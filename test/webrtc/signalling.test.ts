import { describe, expect, it } from 'vitest';
import { RedisEngine } from '../../pkg/engine/redis.js';
import { webrtcSignalling } from '../../pkg/webrtc/index.js';
import { perTest } from '../helpers.js';
import { sharedRedisUrl } from '../redis.js';
import { byQuery, SignalPeer } from './peers.js';

const { start, cleanup } = perTest();

async function hubWithSignalling(options: Parameters<typeof webrtcSignalling>[1] = {}, hubOptions = {}) {
  const s = await start({ authenticate: byQuery, logger: false, ...hubOptions });
  const signalling = webrtcSignalling(s.hub, options);
  return { ...s, signalling };
}

async function peers(url: string, ...users: string[]): Promise<SignalPeer[]> {
  const opened = await Promise.all(users.map((user) => SignalPeer.as(url, user)));
  cleanup(() => opened.forEach((peer) => peer.close()));
  return opened;
}

describe('rooms of peers', () => {
  it('answers a join with the peer id and the peers already there, and tells them who joined and who left', async () => {
    const { url, signalling } = await hubWithSignalling();
    const [ann, bob, cid] = await peers(url, 'ann', 'bob', 'cid');
    expect((await ann!.join('lobby')).peers).toEqual([]);
    const bobJoin = await bob!.join('lobby');
    expect(bobJoin.peers).toEqual([{ peer: ann!.id, user: 'ann' }]);
    expect(await ann!.next((m) => m.type === 'webrtc:joined')).toMatchObject({ channel: 'presence-webrtc:lobby', data: { room: 'lobby', peer: bob!.id, user: 'bob' } });
    await cid!.join('lobby');
    expect((await signalling.peers('lobby')).map((p) => p.user).sort()).toEqual(['ann', 'bob', 'cid']);

    expect(await bob!.ask('webrtc:leave', { room: 'lobby' })).toMatchObject({ type: 'reply' });
    expect(await ann!.next((m) => m.type === 'webrtc:left')).toMatchObject({ data: { room: 'lobby', peer: bob!.id } });
    cid!.close();
    expect(await ann!.next((m) => m.type === 'webrtc:left')).toMatchObject({ data: { room: 'lobby', peer: cid!.id } });
    await expect.poll(() => signalling.peers('lobby')).toEqual([{ peer: ann!.id, user: 'ann' }]);
  });

  it('lists two tabs of one user as two peers, and anonymous peers when authorize lets them in', async () => {
    const { url } = await hubWithSignalling({ authorize: () => true });
    const [tab1, tab2] = await peers(url, 'ann', 'ann');
    const anonymous = await SignalPeer.as(url);
    cleanup(() => anonymous.close());
    await tab1!.join('r');
    await anonymous.join('r');
    const { peers: seen } = await tab2!.join('r');
    expect(seen).toHaveLength(2);
    expect(seen).toEqual(expect.arrayContaining([{ peer: tab1!.id, user: 'ann' }, { peer: anonymous.id, user: null }]));
  });

  it('refuses anonymous connections by default, rooms authorize refuses, bad room names and full rooms, with codes', async () => {
    const { url } = await hubWithSignalling({ maxPeers: 2, authorize: (room, ctx) => ctx.identity !== null && room !== 'secret' });
    const anonymous = await SignalPeer.as(url);
    cleanup(() => anonymous.close());
    expect(await anonymous.ask('webrtc:join', { room: 'lobby' })).toMatchObject({ type: 'error', code: 'forbidden' });
    const [ann, bob, cid] = await peers(url, 'ann', 'bob', 'cid');
    expect(await ann!.ask('webrtc:join', { room: 'secret' })).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(await ann!.ask('webrtc:join', { room: 'a:b' })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await ann!.ask('webrtc:join', 'lobby')).toMatchObject({ type: 'error', code: 'bad_request' });
    await ann!.join('lobby');
    await bob!.join('lobby');
    expect(await cid!.ask('webrtc:join', { room: 'lobby' })).toMatchObject({ type: 'error', code: 'forbidden', message: expect.stringContaining('maxPeers') });
  });

  it('throws a TypeError naming an unknown option', async () => {
    const s = await start({ logger: false });
    expect(() => webrtcSignalling(s.hub, { maxPeer: 3 } as never)).toThrow(/unknown option 'maxPeer'.*'maxPeers'/);
    expect(() => webrtcSignalling(s.hub, { signalRate: 0 })).toThrow(TypeError);
  });
});

describe('signals', () => {
  it('relays a signal to the addressed peer alone, with from stamped by the server over a forged one', async () => {
    const { url } = await hubWithSignalling();
    const [ann, bob, cid] = await peers(url, 'ann', 'bob', 'cid');
    for (const peer of [ann!, bob!, cid!]) await peer.join('lobby');
    const answer = await ann!.ask('webrtc:signal', { room: 'lobby', to: bob!.id, from: cid!.id, data: { type: 'offer', sdp: 'v=0', from: cid!.id } });
    expect(answer).toMatchObject({ type: 'reply' });
    const got = await bob!.next((m) => m.type === 'webrtc:signal');
    expect(got.data).toEqual({ room: 'lobby', from: ann!.id, data: { type: 'offer', sdp: 'v=0', from: cid!.id } });
    expect(got.from).toMatchObject({ client: ann!.id, user: 'ann' });
    // cid was not addressed: a signal sent to it after the first one arrives, and the first did not.
    await bob!.signal('lobby', cid!.id, 'after');
    expect((await cid!.signalled()).data).toBe('after');
    expect(cid!.messages.filter((m) => m.type === 'webrtc:signal')).toEqual([]);
  });

  it('refuses a signal to a peer outside the room, and from a connection that did not join it', async () => {
    const { url } = await hubWithSignalling();
    const [ann, bob, out] = await peers(url, 'ann', 'bob', 'out');
    await ann!.join('lobby');
    await bob!.join('lobby');
    await out!.join('elsewhere');
    expect(await ann!.signal('lobby', out!.id, 'hello')).toMatchObject({ type: 'error', code: 'forbidden', message: expect.stringContaining('not a peer') });
    expect(await out!.signal('lobby', ann!.id, 'hello')).toMatchObject({ type: 'error', code: 'forbidden', message: expect.stringContaining('join the call room') });
    expect(await ann!.signal('lobby', ann!.id, 'me')).toMatchObject({ type: 'error', code: 'bad_request' });
    await bob!.signal('elsewhere', out!.id, 'x').then((a) => expect(a).toMatchObject({ code: 'forbidden' }));
    // Nothing reached them: the signal after the refused ones is the first they get.
    await bob!.signal('lobby', ann!.id, 'sentinel');
    expect((await ann!.signalled()).data).toBe('sentinel');
    expect(out!.messages.filter((m) => m.type === 'webrtc:signal')).toEqual([]);
  });

  it('delivers the signals from one peer to another in the order they were sent', async () => {
    const { url } = await hubWithSignalling();
    const [ann, bob] = await peers(url, 'ann', 'bob');
    await ann!.join('lobby');
    await bob!.join('lobby');
    const answers = Array.from({ length: 60 }, (_, i) => ann!.signal('lobby', bob!.id, { n: i }));
    expect((await Promise.all(answers)).every((a) => a.type === 'reply')).toBe(true);
    const got = [];
    for (let i = 0; i < 60; i++) got.push((await bob!.signalled()).data.n);
    expect(got).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });

  it('refuses an oversize description with too_large and a flood with rate_limited', async () => {
    const { url } = await hubWithSignalling({ maxSignalBytes: 4096, signalRate: 5, signalBurst: 10 });
    const [ann, bob] = await peers(url, 'ann', 'bob');
    await ann!.join('lobby');
    await bob!.join('lobby');
    const big = await ann!.signal('lobby', bob!.id, { type: 'offer', sdp: 'a'.repeat(5000) });
    expect(big).toMatchObject({ type: 'error', code: 'too_large', message: expect.stringContaining('maxSignalBytes') });
    const flood = await Promise.all(Array.from({ length: 30 }, (_, i) => ann!.signal('lobby', bob!.id, i)));
    const limited = flood.filter((a) => a.code === 'rate_limited');
    expect(flood.filter((a) => a.type === 'reply')).toHaveLength(10);
    expect(limited.length).toBe(20);
  });

  it('refuses clients subscribing to, leaving or publishing on the channels of rooms and peers', async () => {
    const { url } = await hubWithSignalling({}, { authorize: () => true, canPublish: () => true });
    const [ann, eve] = await peers(url, 'ann', 'eve');
    await ann!.join('lobby');
    for (const channel of ['presence-webrtc:lobby', `presence-webrtc-peer:lobby:${ann!.id}`]) {
      eve!.send({ type: 'subscribe', channel, id: 's1' });
      expect(await eve!.next((m) => m.id === 's1')).toMatchObject({ type: 'error', code: 'forbidden' });
      eve!.send({ type: 'publish', channel, event: 'webrtc:signal', data: { from: 'x' }, id: 'p1' });
      expect(await eve!.next((m) => m.id === 'p1')).toMatchObject({ type: 'error', code: 'forbidden' });
    }
    ann!.send({ type: 'unsubscribe', channel: 'presence-webrtc:lobby', id: 'u1' });
    expect(await ann!.next((m) => m.id === 'u1')).toMatchObject({ type: 'error', code: 'forbidden' });
  });
});

describe('signalling across nodes', () => {
  it('two peers on two hubs sharing Redis see each other join and exchange signals in order', async () => {
    const redis = await sharedRedisUrl();
    const prefix = `webrtc-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const [one, two] = await Promise.all([0, 1].map(() => hubWithSignalling({}, { engine: new RedisEngine({ url: redis, prefix }) })));
    const [ann] = await peers(one!.url, 'ann');
    const [bob] = await peers(two!.url, 'bob');
    await ann!.join('call');
    expect((await bob!.join('call')).peers).toEqual([{ peer: ann!.id, user: 'ann' }]);
    expect(await ann!.next((m) => m.type === 'webrtc:joined')).toMatchObject({ data: { peer: bob!.id } });
    const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => bob!.signal('call', ann!.id, i)));
    expect(sent.every((a) => a.type === 'reply')).toBe(true);
    for (let i = 0; i < 20; i++) expect((await ann!.signalled()).data).toBe(i);
    expect((await ann!.signal('call', bob!.id, 'answer')).type).toBe('reply');
    expect(await bob!.signalled()).toEqual({ room: 'call', from: ann!.id, data: 'answer' });
    bob!.close();
    expect(await ann!.next((m) => m.type === 'webrtc:left')).toMatchObject({ data: { peer: bob!.id } });
  });
});
