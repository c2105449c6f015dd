import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Engine } from 'livehub/engine';
import { MemoryEngine } from 'livehub/engine';
import { RedisEngine } from 'livehub/redis';
import { PostgresEngine } from 'livehub/postgres';
import { userChannel } from '../../pkg/protocol/index.js';
import { Peer, perTest } from '../helpers.js';
import { sharedRedisUrl } from '../redis.js';
import { testDatabase } from '../engine/postgres-db.js';

const hubs = perTest();

/** Authenticates each connection as the user named in its `user` query parameter (none: anonymous). */
const byQuery = (request: IncomingMessage) => {
  const user = new URL(request.url ?? '/', 'http://hub').searchParams.get('user');
  return user === null ? null : { userId: user };
};
const as = (url: string, userId: string) => Peer.open(`${url}?user=${encodeURIComponent(userId)}`);

describe('acknowledged user streams over the protocol', () => {
  it('answers unread with the head, the acknowledgement and the count, and moves the acknowledgement forward only', async () => {
    const { hub, url } = await hubs.start({ authenticate: byQuery });
    const ann = await as(url, 'ann');
    for (let i = 1; i <= 3; i++) await hub.sendToUser('ann', 'note', i);
    ann.send({ type: 'unread', id: 'u1' });
    const first = await ann.next((m) => m.type === 'unread' && m.id === 'u1');
    expect(first).toEqual({ type: 'unread', id: 'u1', channel: 'user:ann', offset: 3, epoch: expect.any(String), acknowledged: 0, unread: 3 });
    ann.send({ type: 'acknowledge', channel: 'user:ann', offset: 2, epoch: first.epoch, id: 'a1' });
    expect(await ann.next((m) => m.type === 'unread' && m.id === 'a1')).toMatchObject({ offset: 3, acknowledged: 2, unread: 1 });
    ann.send({ type: 'acknowledge', channel: 'user:ann', offset: 1, epoch: first.epoch, id: 'a2' });
    expect(await ann.next((m) => m.type === 'unread' && m.id === 'a2')).toMatchObject({ offset: 3, acknowledged: 2, unread: 1 });
    expect(await hub.unread('ann')).toEqual({ channel: 'user:ann', head: { offset: 3, epoch: first.epoch }, acknowledged: 2, unread: 1 });
  });

  it('refuses another user\'s stream (forbidden), an anonymous connection, a position past the head and a stale epoch, storing nothing', async () => {
    const { hub, url, logs } = await hubs.start({ authenticate: byQuery }, { record: true });
    const ann = await as(url, 'ann');
    const anonymous = await Peer.open(url);
    await hub.sendToUser('bob', 'note', 1);
    await hub.sendToUser('ann', 'note', 1);
    const { head } = await hub.unread('bob');
    ann.send({ type: 'acknowledge', channel: 'user:bob', offset: 1, epoch: head.epoch, id: 'x' });
    expect(await ann.next((m) => m.id === 'x')).toMatchObject({ type: 'error', code: 'forbidden', channel: 'user:bob' });
    expect(logs).toContainEqual(expect.objectContaining({ code: 'acknowledge_refused', message: expect.stringContaining('only its own user stream') }));
    anonymous.send({ type: 'unread', id: 'y' });
    expect(await anonymous.next((m) => m.id === 'y')).toMatchObject({ type: 'error', code: 'forbidden' });
    const own = await hub.unread('ann');
    ann.send({ type: 'acknowledge', channel: 'user:ann', offset: 2, epoch: own.head.epoch, id: 'ahead' });
    expect(await ann.next((m) => m.id === 'ahead')).toMatchObject({ type: 'error', code: 'beyond_head', channel: 'user:ann' });
    ann.send({ type: 'acknowledge', channel: 'user:ann', offset: 1, epoch: 'gone', id: 'stale' });
    expect(await ann.next((m) => m.id === 'stale')).toMatchObject({ type: 'error', code: 'stale_epoch' });
    ann.send({ type: 'acknowledge', channel: 'user:ann', offset: -1, epoch: own.head.epoch, id: 'bad' });
    expect(await ann.next((m) => m.id === 'bad')).toMatchObject({ type: 'error', code: 'bad_request' });
    expect((await hub.unread('bob')).acknowledged).toBe(0);
    expect((await hub.unread('ann')).acknowledged).toBe(0);
    await expect(hub.acknowledge('ann', { offset: 5, epoch: own.head.epoch })).rejects.toMatchObject({ code: 'beyond_head' });
  });

  it('answers unsupported when the engine keeps no acknowledgements', async () => {
    const plain = new MemoryEngine() as Engine;
    const bare: Engine = {
      start: (h) => plain.start(h), publish: (...a) => plain.publish(...a), subscribe: (c) => plain.subscribe(c), unsubscribe: (c) => plain.unsubscribe(c),
      history: (c, s) => plain.history(c, s), addPresence: (...a) => plain.addPresence(...a), removePresence: (...a) => plain.removePresence(...a),
      presence: (c) => plain.presence(c), sweepPresence: (c) => plain.sweepPresence(c), send: (n, m) => plain.send(n, m), close: () => plain.close(),
    };
    const { hub, url } = await hubs.start({ authenticate: byQuery, engine: bare });
    const ann = await as(url, 'ann');
    ann.send({ type: 'unread', id: 'u' });
    expect(await ann.next((m) => m.id === 'u')).toMatchObject({ type: 'error', code: 'unsupported' });
    await expect(hub.unread('ann')).rejects.toMatchObject({ code: 'unsupported' });
  });
});

/** Two hubs sharing one store (the user on two devices, one on each node), or one hub for an engine of one process. */
async function twoNodes(make: (() => Engine) | null) {
  const a = await hubs.start({ authenticate: byQuery, engine: make?.() ?? new MemoryEngine() });
  const b = make === null ? a : await hubs.start({ authenticate: byQuery, engine: make() });
  return { a, b };
}

const stores: Array<[string, () => Promise<(() => Engine) | null>]> = [
  ['one node with the memory engine', async () => null],
  ['two nodes sharing Redis', async () => {
    const url = await sharedRedisUrl();
    const prefix = `lhacks-${randomBytes(4).toString('hex')}`;
    return () => new RedisEngine({ url, prefix });
  }],
  ['two nodes sharing PostgreSQL', async () => {
    const db = await testDatabase();
    hubs.cleanup(() => db.drop());
    return () => new PostgresEngine({ connectionString: db.url, pollInterval: 100 });
  }],
];

describe.each(stores)('one user on two devices, %s', (_name, store) => {
  it('shares one acknowledgement per user: the other device is told the new count, and a new device resumes from it', async () => {
    const make = await store();
    const { a, b } = await twoNodes(make);
    const phone = await as(a.url, 'ann');
    const laptop = await as(b.url, 'ann');
    const channel = userChannel('ann');
    // Answered once each node receives the stream: what is published next reaches both devices live.
    await Promise.all([phone.subscribe(channel), laptop.subscribe(channel)]);
    for (let i = 1; i <= 4; i++) await a.hub.sendToUser('ann', 'notification', { n: i });
    await laptop.next((m) => m.type === 'notification' && m.data.n === 4, 15_000);
    phone.send({ type: 'unread', id: 'u' });
    const state = await phone.next((m) => m.id === 'u', 15_000);
    expect(state).toMatchObject({ channel, offset: 4, acknowledged: 0, unread: 4 });
    phone.send({ type: 'acknowledge', channel, offset: 3, epoch: state.epoch, id: 'ack' });
    expect(await phone.next((m) => m.id === 'ack', 15_000)).toMatchObject({ acknowledged: 3, unread: 1 });
    // The other device, on the other node, is told without asking.
    expect(await laptop.next((m) => m.type === 'unread' && m.id === undefined, 15_000)).toEqual({ type: 'unread', channel, offset: 4, epoch: state.epoch, acknowledged: 3, unread: 1 });
    // A third device resumes from the acknowledgement: it is replayed only what is unacknowledged.
    const tablet = await as(b.url, 'ann');
    tablet.send({ type: 'subscribe', channel, since: { offset: 3, epoch: state.epoch }, id: 's' });
    expect(await tablet.next((m) => m.id === 's', 15_000)).toMatchObject({ type: 'subscribed', recovered: true, offset: 4 });
    expect(await tablet.next((m) => m.type === 'notification', 15_000)).toMatchObject({ data: { n: 4 }, offset: 4 });
    await tablet.sync();
    expect(tablet.messages.filter((m) => m.type === 'notification')).toEqual([]);
    // A server-side acknowledgement (to the head) reaches both devices too.
    expect(await b.hub.acknowledge('ann')).toMatchObject({ acknowledged: 4, unread: 0 });
    expect(await phone.next((m) => m.type === 'unread' && m.acknowledged === 4, 15_000)).toMatchObject({ unread: 0 });
    expect(await laptop.next((m) => m.type === 'unread' && m.acknowledged === 4, 15_000)).toMatchObject({ unread: 0 });
  }, 60_000);
});
