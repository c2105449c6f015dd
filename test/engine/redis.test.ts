import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient } from '../../client/index.js';
import { RedisEngine, type RedisEngineOptions } from '../../pkg/engine/redis.js';
import { Hub, type HubOptions } from '../../pkg/index.js';
import { Peer, sentinel, sleep, startHub, turn } from '../helpers.js';
import { sharedRedisUrl, startRedis } from '../redis.js';

let shared = '';
beforeAll(async () => { shared = await sharedRedisUrl(); });

const cleanups: Array<() => unknown> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

/** A node: a hub on the Redis engine, on its own port (see `startHub`); stopped after the test. */
async function node(url: string, prefix: string, options: HubOptions = {}, engineOptions: RedisEngineOptions = {}) {
  const engine = new RedisEngine({ url, prefix, ...engineOptions });
  const started = await startHub({ engine, canPublish: () => true, ...options });
  const stop = async () => { await started.stop(); await engine.close(); };
  cleanups.push(stop);
  await expect.poll(() => engine.commands.status === 'ready' && engine.subscriber.status === 'ready').toBe(true);
  return { hub: started.hub, engine, server: started.server, url: started.url, stop };
}

function prefix() {
  const p = `lhtest-${randomBytes(4).toString('hex')}`;
  cleanups.push(async () => {
    const redis = new Redis(shared);
    const keys = await redis.keys(`${p}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
  return p;
}

describe('the Redis engine across nodes', () => {
  it('delivers a message published on one node to subscribers on the others, in order', async () => {
    const p = prefix();
    const [a, b, c] = [await node(shared, p), await node(shared, p), await node(shared, p)];
    const onB = await Peer.open(b.url);
    const onC = await Peer.open(c.url);
    cleanups.push(() => onB.close(), () => onC.close());
    await onB.subscribe('news');
    await onC.subscribe('news');
    for (let i = 0; i < 500; i++) a.hub.publish('news', 'n', i);
    for (const peer of [onB, onC]) {
      await expect.poll(() => peer.messages.filter((m) => m.channel === 'news').length, { timeout: 10_000 }).toBe(500);
      const got = peer.messages.filter((m) => m.channel === 'news');
      expect(got.map((m) => m.data)).toEqual([...Array(500).keys()]);
      expect(got.map((m) => m.offset)).toEqual([...Array(500).keys()].map((i) => i + 1));
    }
  });

  it('lets a client moved from one node to another recover what it missed', async () => {
    const p = prefix();
    const [a, b] = [await node(shared, p), await node(shared, p)];
    let target = a.url;
    const client = new LiveClient('ws://unused', { WebSocket: class extends (WebSocket as never as new (u: string) => object) { constructor() { super(target); } } as never, reconnect: { delay: 20 } });
    cleanups.push(() => client.dispose());
    const got: number[] = [];
    client.on<number>('feed', (n) => got.push(n));
    await expect.poll(() => client.status).toBe('open');
    await expect.poll(() => client.position('feed')).toBeDefined();
    for (let i = 0; i < 10; i++) b.hub.publish('feed', 'n', i);
    await expect.poll(() => got.length).toBe(10);
    // Node A goes away; the client comes back through the load balancer, on node B.
    target = b.url;
    await a.stop();
    for (let i = 10; i < 30; i++) b.hub.publish('feed', 'n', i);
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(30);
    expect(got).toEqual([...Array(30).keys()]);
  });

  it('detects the gap after CLIENT KILL TYPE pubsub during publishing and recovers it', async () => {
    const p = prefix();
    const history = { size: 5000, ttl: 60_000 }; // the gap must be in history to be repaired
    const errors: string[] = [];
    const onError = (e: Error) => errors.push(e.message);
    const [a, b] = [await node(shared, p, { history, onError }), await node(shared, p, { history, onError })];
    const peer = await Peer.open(b.url);
    cleanups.push(() => peer.close());
    await peer.subscribe('busy');
    const admin = new Redis(shared);
    cleanups.push(() => admin.disconnect());
    const total = 1500;
    for (let i = 0; i < total; i++) {
      a.hub.publish('busy', 'n', i);
      if (i === 300 || i === 900) await admin.client('KILL', 'TYPE', 'pubsub');
      if (i % 50 === 0) await turn(); // the kills land while publications flow
    }
    await expect.poll(() => peer.messages.filter((m) => m.channel === 'busy').length, { timeout: 15_000 }).toBe(total)
      .catch((failure) => { throw new Error(`${failure.message}; errors: ${errors.slice(0, 5).join(' | ')}; got ${peer.messages.filter((m) => m.channel === 'busy').length}, other: ${JSON.stringify(peer.messages.filter((m) => m.channel !== 'busy').slice(0, 3))}`); });
    const got = peer.messages.filter((m) => m.channel === 'busy');
    const firstWrong = got.findIndex((m, i) => m.data !== i);
    expect(firstWrong === -1 ? 'in order' : JSON.stringify(got.slice(Math.max(0, firstWrong - 2), firstWrong + 3))).toBe('in order');
  });

  it('recovers a tail published while its subscriber connection was down, with nothing published after', async () => {
    const p = prefix();
    const [a, b] = [await node(shared, p), await node(shared, p)];
    const peer = await Peer.open(b.url);
    cleanups.push(() => peer.close());
    await peer.subscribe('tail');
    a.hub.publish('tail', 'n', 0);
    await peer.next((m) => m.channel === 'tail');
    const admin = new Redis(shared);
    cleanups.push(() => admin.disconnect());
    await admin.client('KILL', 'TYPE', 'pubsub');
    for (let i = 1; i <= 20; i++) a.hub.publish('tail', 'n', i); // while b's subscriber reconnects; then silence
    await expect.poll(() => peer.messages.filter((m) => m.channel === 'tail').length, { timeout: 10_000 }).toBe(20);
    expect(peer.messages.filter((m) => m.channel === 'tail').map((m) => m.data)).toEqual([...Array(20).keys()].map((i) => i + 1));
  });

  it('does not mistake a node that reads its subscriber connection late for one that lost messages', async () => {
    const p = prefix();
    const a = await node(shared, p, { history: { size: 10 } });
    const b = await node(shared, p, {}, { checkInterval: 100 });
    const peer = await Peer.open(b.url);
    cleanups.push(() => peer.close());
    await peer.subscribe('late');
    // A starved node: its subscriber socket goes unread for several checks while 100 publications
    // (ten times the history) arrive in it.
    const socket = (b.engine.subscriber as unknown as { stream: import('node:net').Socket }).stream;
    socket.pause();
    for (let i = 0; i < 100; i++) a.hub.publish('late', 'n', i);
    await expect.poll(async () => (await a.hub.position('late')).offset).toBe(100);
    // Elapsed time is the condition here: five of B's checks (every 100 ms) pass while it reads nothing.
    await sleep(500);
    socket.resume();
    await expect.poll(() => peer.messages.filter((m) => m.channel === 'late').length, { timeout: 10_000 }).toBe(100);
    // A reset sent after the 100 would arrive before a publication made after them.
    await sentinel(a.hub, 'late', [peer]);
    const got = peer.messages.filter((m) => m.channel === 'late' && !m.type.startsWith('sentinel-'));
    expect(got.map((m) => m.type)).not.toContain('reset');
    expect(got.map((m) => m.data)).toEqual([...Array(100).keys()]);
  });

  it('deduplicates a publish retried with the same id on another node', async () => {
    const p = prefix();
    const [a, b] = [await node(shared, p), await node(shared, p)];
    const reader = await Peer.open(a.url);
    const first = await Peer.open(a.url);
    const retry = await Peer.open(b.url);
    cleanups.push(() => reader.close(), () => first.close(), () => retry.close());
    await reader.subscribe('once');
    const publish = { type: 'publish', channel: 'once', event: 'm', data: 1, id: `id-${p}` };
    first.send(publish);
    await first.next((m) => m.type === 'ack');
    retry.send(publish);
    expect(await retry.next((m) => m.type === 'ack')).toMatchObject({ type: 'ack', id: publish.id });
    await sentinel(b.hub, 'once', [reader]);
    expect(reader.messages.filter((m) => m.channel === 'once' && m.type === 'm')).toHaveLength(1);
  });
});

describe('a node starting', () => {
  it('holds a publish made before its first connection to Redis, instead of failing it', async () => {
    const engine = new RedisEngine({ url: shared, prefix: prefix() });
    const hub = new Hub({ engine });
    cleanups.push(() => hub.close(), () => engine.close());
    expect(engine.commands.status).not.toBe('ready');
    const position = await engine.publish('early', 'm', '1', { size: 10, ttl: 60_000 });
    expect(position.offset).toBe(1);
  });

  it('subscribes during the connection handshake without breaking it: no reconnect, nothing missed', async () => {
    const engine = new RedisEngine({ url: shared, prefix: prefix() });
    cleanups.push(() => engine.close());
    let connects = 0;
    engine.subscriber.on('connect', () => connects++);
    // Subscribe at the first moment the socket is up, before ioredis calls the connection ready.
    const subscribed = new Promise<void>((resolve) => engine.subscriber.once('connect', () => void engine.subscribe('early').then(resolve)));
    const delivered: number[] = [];
    const resets: string[] = [];
    await engine.start({ node: 'early', message: () => {}, deliver: (p) => delivered.push(p.offset), reset: (channel) => resets.push(channel) });
    await subscribed;
    await expect.poll(() => engine.subscriber.status).toBe('ready');
    for (let i = 0; i < 5; i++) await engine.publish('early', 'n', String(i), { size: 0, ttl: 1000 });
    await expect.poll(() => delivered).toEqual([1, 2, 3, 4, 5]);
    expect(connects).toBe(1);
    expect(resets).toEqual([]);
  });

  it('fails commands once startupWait has passed with Redis unreachable', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const free = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(free));
      });
    });
    const engine = new RedisEngine({ url: `redis://127.0.0.1:${port}`, startupWait: 300 });
    const errors: Error[] = [];
    const hub = new Hub({ engine, onError: (error) => errors.push(error) });
    cleanups.push(() => hub.close(), () => engine.close());
    const began = Date.now();
    await expect(engine.publish('x', 'm', '1', { size: 10, ttl: 1000 })).rejects.toThrow();
    expect(Date.now() - began).toBeGreaterThanOrEqual(250);
    expect(Date.now() - began).toBeLessThan(3000);
  });
});

describe('the Redis engine when Redis fails', () => {
  it('starts a new epoch when Redis restarts empty: recovered:false, never a wrong replay', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const n = await node(redis.url, 'lh');
    for (let i = 1; i <= 5; i++) await n.hub.publish('e', 'n', i);
    const before = await n.hub.position('e');
    expect(before.offset).toBe(5);
    await redis.stop();
    const again = await startRedis(redis.port);
    cleanups.push(() => again.stop());
    await expect.poll(() => n.engine.commands.status === 'ready' && n.engine.subscriber.status === 'ready', { timeout: 10_000 }).toBe(true);
    await n.hub.publish('e', 'n', 'after');
    const peer = await Peer.open(n.url);
    cleanups.push(() => peer.close());
    peer.send({ type: 'subscribe', channel: 'e', since: before });
    const reply = await peer.next((m) => m.type === 'subscribed');
    expect(reply.recovered).toBe(false);
    expect(reply.epoch).not.toBe(before.epoch);
    await peer.sync(); // a replay would come right after the subscribe answer, before the pong
    expect(peer.messages.filter((m) => m.channel === 'e' && 'data' in m)).toEqual([]);
  });

  it('fails a publish at once with an error frame while Redis is down, and works again after', async () => {
    const redis = await startRedis();
    const n = await node(redis.url, 'lh');
    const peer = await Peer.open(n.url);
    cleanups.push(() => peer.close());
    await redis.stop();
    await expect.poll(() => n.engine.commands.status).not.toBe('ready');
    const began = Date.now();
    peer.send({ type: 'publish', channel: 'x', event: 'm', data: 1, id: 'during-outage' });
    expect(await peer.next((m) => m.type === 'error' && m.id === 'during-outage')).toMatchObject({ code: 'unavailable' });
    expect(Date.now() - began).toBeLessThan(1000);
    const again = await startRedis(redis.port);
    cleanups.push(() => again.stop());
    await expect.poll(() => n.engine.commands.status, { timeout: 10_000 }).toBe('ready');
    peer.send({ type: 'publish', channel: 'x', event: 'm', data: 2, id: 'after-outage' });
    expect(await peer.next((m) => m.type === 'ack', 5000)).toMatchObject({ type: 'ack', id: 'after-outage' });
  });
});

describe('publishes while Redis is frozen', () => {
  it('answers outcome_unknown (not unavailable) to a publish Redis froze on; the client retry with the same id is acked at the first position and delivered once', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop(), () => redis.signal('SIGCONT'));
    const n = await node(redis.url, 'lh', {}, { commandTimeout: 500, checkInterval: 200 });
    const publisher = await Peer.open(n.url);
    const reader = await Peer.open(n.url);
    cleanups.push(() => publisher.close(), () => reader.close());
    await reader.subscribe('orders');

    redis.signal('SIGSTOP');
    publisher.send({ type: 'publish', channel: 'orders', event: 'created', data: 'order-1', id: 'order-1' });
    const answer = await publisher.next((m) => m.type === 'error' && m.id === 'order-1', 5000);
    expect(answer).toMatchObject({ code: 'outcome_unknown', channel: 'orders' });
    expect(answer.message).toContain('retry with the same id');
    redis.signal('SIGCONT');

    // Redis applied the frozen publish when it woke: the retry with the same id is acked with its
    // position, and the reader gets the message once.
    await expect.poll(() => n.engine.commands.status, { timeout: 10_000 }).toBe('ready');
    let ack: { type: string; offset?: number } = { type: 'none' };
    await expect.poll(async () => {
      publisher.send({ type: 'publish', channel: 'orders', event: 'created', data: 'order-1', id: 'order-1' });
      ack = await publisher.next((m) => (m.type === 'ack' || m.type === 'error') && m.id === 'order-1', 5000);
      return ack.type;
    }, { timeout: 10_000, interval: 250 }).toBe('ack');
    await sentinel(n.hub, 'orders', [reader]);
    const created = reader.messages.filter((m) => m.channel === 'orders' && m.type === 'created');
    expect(created.map((m) => [m.data, m.offset])).toEqual([['order-1', ack.offset]]);
  }, 30_000);

  it('rejects hub.publish with outcome_unknown while Redis is frozen and with unavailable while it is down', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop(), () => redis.signal('SIGCONT'));
    const n = await node(redis.url, 'lh', {}, { commandTimeout: 500, checkInterval: 200 });
    redis.signal('SIGSTOP');
    await expect(n.hub.publish('orders', 'created', 1, { idempotencyKey: 'o1' })).rejects.toMatchObject({ code: 'outcome_unknown' });
    redis.signal('SIGCONT');
    await redis.stop();
    await expect.poll(() => n.engine.commands.status).not.toBe('ready');
    await expect(n.hub.publish('orders', 'created', 2)).rejects.toMatchObject({ code: 'unavailable' });
  }, 30_000);
});

describe('presence across nodes', () => {
  it('agrees on every node: members on subscribe, join, update and leave', async () => {
    const p = prefix();
    const opts = { authorize: () => true, presenceTtl: 3000 };
    const [a, b, c] = [await node(shared, p, opts), await node(shared, p, opts), await node(shared, p, opts)];
    const ann = await Peer.open(a.url);
    const bob = await Peer.open(b.url);
    const cat = await Peer.open(c.url);
    cleanups.push(() => ann.close(), () => bob.close(), () => cat.close());
    for (const peer of [ann, bob]) peer.send({ type: 'subscribe', channel: 'presence-room' });
    await ann.next((m) => m.type === 'presence');
    await bob.next((m) => m.type === 'presence');
    // Each node's announcements come before its own later publications on the channel.
    await sentinel(a.hub, 'presence-room', [ann, bob]);
    await sentinel(b.hub, 'presence-room', [ann, bob]);
    ann.messages.splice(0);
    bob.messages.splice(0);
    cat.send({ type: 'subscribe', channel: 'presence-room' });
    const list = await cat.next((m) => m.type === 'presence');
    expect(list.members.map((m: { userId: string }) => m.userId).sort()).toHaveLength(3);
    // ann and bob, on the other nodes, see cat join
    const catJoin = await ann.next((m) => m.channel === 'presence-room' && m.type === 'join', 5000);
    await bob.next((m) => m.type === 'join' && m.data.userId === catJoin.data.userId);
    cat.send({ type: 'status', channel: 'presence-room', status: 'away', id: 's1' });
    await cat.next((m) => m.type === 'ack' && m.id === 's1');
    for (const peer of [ann, bob]) await peer.next((m) => m.type === 'update' && m.data.status === 'away');
    for (const peer of [ann, bob, cat]) {
      peer.send({ type: 'presence', channel: 'presence-room', id: 'who' });
      const answer = await peer.next((m) => m.type === 'presence' && m.id === 'who');
      expect(answer.members).toHaveLength(3);
      expect(answer.members.filter((m: { status: string }) => m.status === 'away')).toHaveLength(1);
    }
    cat.close();
    for (const peer of [ann, bob]) await peer.next((m) => m.type === 'leave' && m.data.userId === catJoin.data.userId);
  });

  it("removes the users of a node killed with kill -9 within the presence TTL", async () => {
    const p = prefix();
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers/livehub.ts', '--port', '0'], {
      env: { ...process.env, REDIS_URL: shared, PRESENCE_TTL: '1500', LIVEHUB_PREFIX: p, LIVEHUB_BENCH_SOURCES: '1' }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(() => child.kill('SIGKILL'));
    const port = await new Promise<number>((resolve) => child.stdout!.on('data', (d) => { const m = /READY (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); }));
    const survivor = await node(shared, p, { authorize: () => true, presenceTtl: 1500 });
    const watcher = await Peer.open(survivor.url);
    const doomed = await Peer.open(`ws://127.0.0.1:${port}/`);
    cleanups.push(() => watcher.close(), () => doomed.close());
    watcher.send({ type: 'subscribe', channel: 'presence-lobby' });
    const { members: [self] } = await watcher.next((m) => m.type === 'presence', 10_000);
    doomed.send({ type: 'subscribe', channel: 'presence-lobby' });
    const joined = await watcher.next((m) => m.type === 'join' && m.data.userId !== self.userId, 10_000);
    child.kill('SIGKILL');
    const killedAt = Date.now();
    const left = await watcher.next((m) => m.type === 'leave' && m.data.userId === joined.data.userId, 6000);
    expect(left.data.userId).toBe(joined.data.userId);
    expect(Date.now() - killedAt).toBeLessThan(1500 + 1500); // the TTL, plus one sweep period of slack
  }, 20_000);
});

describe('user targeting across nodes', () => {
  it('sends to a user on every node, answers isUserConnected everywhere, and disconnects them everywhere', async () => {
    const p = prefix();
    const opts: HubOptions = { authenticate: (req) => ({ userId: String(req.headers['x-user']) }) };
    const [a, b, c] = [await node(shared, p, opts), await node(shared, p, opts), await node(shared, p, opts)];
    const onB = await Peer.open(b.url, { headers: { 'x-user': 'uma' } });
    const onC = await Peer.open(c.url, { headers: { 'x-user': 'uma' } });
    const other = await Peer.open(c.url, { headers: { 'x-user': 'vic' } });
    cleanups.push(() => onB.close(), () => onC.close(), () => other.close());
    await expect.poll(() => a.hub.connectedClients('uma')).toHaveLength(2);
    expect(await a.hub.isUserConnected('vic')).toBe(true);
    expect(await a.hub.isUserConnected('nobody')).toBe(false);
    a.hub.sendToUsers(['uma'], 'balance', { amount: 5 });
    for (const peer of [onB, onC]) expect(await peer.next((m) => m.channel === 'user:uma')).toMatchObject({ type: 'balance', data: { amount: 5 } });
    // Node C gets uma's message and vic's sentinel in the order node A published them.
    await sentinel(a.hub, 'user:vic', [other]);
    expect(other.messages.filter((m) => m.channel === 'user:uma')).toEqual([]);
    a.hub.disconnectUser('uma', 'logged out');
    for (const peer of [onB, onC]) expect((await peer.whenClosed()).code).toBe(4503);
    expect(other.closed).toBeNull();
    await expect.poll(() => a.hub.isUserConnected('uma')).toBe(false);
  });

  it('forgets the users of a node that stopped refreshing (dead, or cut off from Redis) within the presence TTL', async () => {
    const p = prefix();
    const opts: HubOptions = { authenticate: (req) => ({ userId: String(req.headers['x-user']) }), presenceTtl: 1000 };
    const [a, b] = [await node(shared, p, opts), await node(shared, p, opts)];
    const zed = await Peer.open(a.url, { headers: { 'x-user': 'zed' } });
    const amy = await Peer.open(b.url, { headers: { 'x-user': 'amy' } });
    cleanups.push(() => zed.close(), () => amy.close());
    await expect.poll(() => b.hub.connectedClients('zed')).toHaveLength(1);
    await a.engine.close(); // node a can no longer refresh or remove anything
    const cutAt = Date.now();
    await expect.poll(() => b.hub.isUserConnected('zed'), { timeout: 5000 }).toBe(false);
    expect(Date.now() - cutAt).toBeLessThan(1000 + 1000); // the TTL, plus polling slack
    expect(await b.hub.isUserConnected('amy')).toBe(true); // b keeps refreshing its own
  });
});

describe('three hub processes', () => {
  it('carries publications from a client on one process to subscribers on the two others, in order', async () => {
    const p = prefix();
    const { spawn } = await import('node:child_process');
    const start = async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers/livehub.ts', '--port', '0'], {
        env: { ...process.env, REDIS_URL: shared, LIVEHUB_PREFIX: p, LIVEHUB_BENCH_SOURCES: '1' }, stdio: ['ignore', 'pipe', 'inherit'],
      });
      cleanups.push(() => child.kill('SIGKILL'));
      const port = await new Promise<number>((resolve) => child.stdout!.on('data', (d) => { const m = /READY (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); }));
      return `ws://127.0.0.1:${port}/`;
    };
    const [a, b, c] = await Promise.all([start(), start(), start()]);
    const publisher = await Peer.open(a);
    const onB = await Peer.open(b);
    const onC = await Peer.open(c);
    cleanups.push(() => publisher.close(), () => onB.close(), () => onC.close());
    await onB.subscribe('across');
    await onC.subscribe('across');
    for (let i = 0; i < 300; i++) publisher.send({ type: 'publish', channel: 'across', event: 'n', data: i });
    for (const peer of [onB, onC]) {
      await expect.poll(() => peer.messages.filter((m) => m.channel === 'across').length, { timeout: 10_000 }).toBe(300);
      expect(peer.messages.filter((m) => m.channel === 'across').map((m) => m.data)).toEqual([...Array(300).keys()]);
    }
  }, 30_000);
});
