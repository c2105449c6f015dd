import { describe, expect, it } from 'vitest';
import { RedisEngine } from '../../pkg/engine/redis.js';
import { HandlerError } from '../../pkg/core/handlers.js';
import { Peer, perTest, sentinel } from '../helpers.js';
import { sharedRedisUrl } from '../redis.js';

const { start, cleanup } = perTest();

async function open(url: string) {
  const peer = await Peer.open(url);
  cleanup(() => peer.close());
  return peer;
}

describe('hub.handle', () => {
  it('routes messages by type and answers a request id with the return value', async () => {
    const { hub, url } = await start({ logger: false });
    hub.handle('math:add', ({ data }) => (data as number[]).reduce((a, b) => a + b, 0));
    hub.handle('whoami', (_message, ctx) => ({ id: ctx.id, transport: ctx.transport, user: ctx.userId }));
    const peer = await open(url);
    peer.send({ type: 'math:add', data: [1, 2, 3], id: 1 });
    peer.send({ type: 'whoami', id: 'w' });
    expect(await peer.next((m) => m.id === 1)).toEqual({ type: 'reply', id: 1, data: 6 });
    expect(await peer.next((m) => m.id === 'w')).toEqual({ type: 'reply', id: 'w', data: { id: expect.any(String), transport: 'websocket', user: null } });
  });

  it('answers kit.fail and errors with a code with that code, and anything else with internal and no stack', async () => {
    const { hub, url, logs } = await start({}, { record: true });
    hub.handle('refuse', (_m, _c, kit) => kit.fail('not_allowed', 'you may not'));
    hub.handle('coded', () => { throw new HandlerError('out_of_stock', 'none left'); });
    hub.handle('crash', async () => { throw new Error('secret database detail'); });
    const peer = await open(url);
    const bystander = await open(url);
    await bystander.subscribe('news');
    peer.send({ type: 'refuse', id: 1 });
    peer.send({ type: 'coded', id: 2 });
    peer.send({ type: 'crash', id: 3 });
    expect(await peer.next((m) => m.id === 1)).toEqual({ type: 'error', id: 1, code: 'not_allowed', message: 'you may not' });
    expect(await peer.next((m) => m.id === 2)).toEqual({ type: 'error', id: 2, code: 'out_of_stock', message: 'none left' });
    const crash = await peer.next((m) => m.id === 3);
    expect(crash).toMatchObject({ type: 'error', code: 'internal' });
    expect(JSON.stringify(crash)).not.toContain('secret');
    expect(logs.some((l) => l.level === 'error' && l.message.includes('secret database detail') && l.message.includes('handlers.test.ts'))).toBe(true);
    await hub.publish('news', 'still', 'up');
    expect((await bystander.next((m) => m.channel === 'news')).data).toBe('up');
    expect(peer.closed).toBeNull();
  });

  it('answers timeout when a handler never answers within handlerTimeout', async () => {
    const { hub, url } = await start({ logger: false, handlerTimeout: 100 });
    hub.handle('hang', () => new Promise(() => {}));
    const peer = await open(url);
    peer.send({ type: 'hang', id: 9 });
    expect(await peer.next((m) => m.id === 9)).toMatchObject({ type: 'error', code: 'timeout' });
  });

  it('refuses to handle built-in types, and treats names like __proto__ as plain names', async () => {
    const { hub, url } = await start({ logger: false });
    expect(() => hub.handle('subscribe', () => 1)).toThrow(/built-in/);
    expect(() => hub.handle('bad name', () => 1)).toThrow(TypeError);
    hub.handle('__proto__', () => 'proto');
    const peer = await open(url);
    peer.send({ type: '__proto__', id: 1 });
    peer.send({ type: 'constructor', id: 2 });
    peer.send({ type: 'toString', id: 3 });
    expect(await peer.next((m) => m.id === 1)).toEqual({ type: 'reply', id: 1, data: 'proto' });
    expect(await peer.next((m) => m.id === 2)).toMatchObject({ type: 'error', code: 'unknown_type' });
    expect(await peer.next((m) => m.id === 3)).toMatchObject({ type: 'error', code: 'unknown_type' });
  });

  it('closes a connection that sends a handler a payload over maxMessageSize with 1009, and others keep their answers', async () => {
    const { hub, url } = await start({ logger: false, maxMessageSize: 4096 });
    hub.handle('echo', ({ data }) => data);
    const big = await open(url);
    const other = await open(url);
    big.send({ type: 'echo', data: 'x'.repeat(10_000), id: 1 });
    expect((await big.whenClosed()).code).toBe(1009);
    other.send({ type: 'echo', data: 'small', id: 2 });
    expect(await other.next((m) => m.id === 2)).toEqual({ type: 'reply', id: 2, data: 'small' });
  });

  it('rate limits a flood of requests like any other message', async () => {
    const { hub, url } = await start({ logger: false, rateLimit: 10, rateLimitBurst: 20 });
    let calls = 0;
    hub.handle('ping:me', () => ++calls);
    const peer = await open(url);
    for (let i = 0; i < 200; i++) peer.send({ type: 'ping:me', id: i });
    await peer.next((m) => m.code === 'rate_limited');
    expect(calls).toBeLessThanOrEqual(25);
  });

  it('joins rooms for the connection and publishes to them except the sender', async () => {
    const { hub, url } = await start({ logger: false });
    hub.handle('room:join', async ({ data }, _ctx, kit) => { await kit.join(`room:${String(data)}`); return 'joined'; });
    hub.handle('room:say', async ({ data }, _ctx, kit) => {
      const { room, text } = data as { room: string; text: string };
      return kit.publish(`room:${room}`, 'said', { text }, { exceptSelf: true });
    });
    const [alice, bob, carol] = [await open(url), await open(url), await open(url)];
    for (const peer of [alice, bob]) {
      peer.send({ type: 'room:join', data: 'lobby', id: 'j' });
      await peer.next((m) => m.id === 'j');
    }
    expect(hub.info().subscriptions).toBe(2); // both joined before the reply
    alice.send({ type: 'room:say', data: { room: 'lobby', text: 'hi' }, id: 's' });
    expect(await alice.next((m) => m.id === 's')).toMatchObject({ type: 'reply', data: { offset: 1 } });
    expect(await bob.next((m) => m.channel === 'room:lobby' && m.type === 'said')).toMatchObject({ type: 'said', data: { text: 'hi' }, from: { echo: false } });
    await sentinel(hub, 'room:lobby', [alice, bob]);
    await carol.sync();
    expect(alice.messages.filter((m) => m.channel === 'room:lobby' && 'data' in m)).toEqual([]);
    expect(carol.messages.filter((m) => m.channel === 'room:lobby')).toEqual([]);
  });
});

describe('hub.use', () => {
  it('runs middleware in order before handlers and built-ins, can enrich the context, and rejects with a code', async () => {
    const { hub, url } = await start({ logger: false, canPublish: () => true });
    const order: string[] = [];
    hub.use(async (message, ctx, next) => { order.push(`global:${message.type}`); ctx.state.tenant = 'acme'; await next(); order.push(`after:${message.type}`); });
    hub.use('publish', async (message, _ctx, next) => {
      if ((message.data as { bad?: boolean } | undefined)?.bad) throw new HandlerError('spam', 'looks like spam');
      await next();
    });
    hub.use('*', async (_m, _c, next) => { order.push('star'); await next(); });
    hub.handle('tenant', (_m, ctx) => ctx.state.tenant);
    const peer = await open(url);
    peer.send({ type: 'tenant', id: 1 });
    expect(await peer.next((m) => m.id === 1)).toEqual({ type: 'reply', id: 1, data: 'acme' });
    peer.send({ type: 'publish', channel: 'c', event: 'e', data: { bad: true }, id: 2 });
    expect(await peer.next((m) => m.id === 2)).toMatchObject({ type: 'error', code: 'spam', channel: 'c' });
    peer.send({ type: 'subscribe', channel: 'c', id: 3 });
    expect(await peer.next((m) => m.id === 3)).toMatchObject({ type: 'subscribed' });
    expect(order.slice(0, 4)).toEqual(['global:tenant', 'star', 'after:tenant', 'global:publish']);
  });

  it('publishes the data a publish middleware set, for every transport alike', async () => {
    const { hub, url } = await start({ logger: false, canPublish: () => true });
    hub.use('publish', async (message, ctx, next) => {
      message.data = { ...(message.data as object), stamped: ctx.transport };
      await next();
    });
    const [reader, writer] = [await open(url), await open(url)];
    await reader.subscribe('c');
    writer.send({ type: 'publish', channel: 'c', event: 'e', data: { text: 'hi' }, id: 1 });
    expect(await reader.next((m) => m.channel === 'c')).toMatchObject({ type: 'e', data: { text: 'hi', stamped: 'websocket' } });
    expect((await hub.history('c')).messages.map((m) => m.data)).toEqual([{ text: 'hi', stamped: 'websocket' }]);
  });

  it('stops a message that a middleware does not pass on', async () => {
    const { hub, url } = await start({ logger: false });
    hub.use('subscribe', async (message, _ctx, next) => { if (message.channel !== 'secret') await next(); });
    const peer = await open(url);
    peer.send({ type: 'subscribe', channel: 'secret', id: 1 });
    peer.send({ type: 'subscribe', channel: 'open', id: 2 });
    expect(await peer.next((m) => m.id === 2)).toMatchObject({ type: 'subscribed' });
    expect(peer.messages.find((m) => m.id === 1)).toBeUndefined();
    expect(hub.info().channels).toBe(1);
  });
});

describe('except-self', () => {
  it('keeps a client publish with exceptSelf from its sender, on two nodes, with offsets and history intact', async () => {
    const url = await sharedRedisUrl();
    const prefix = `except-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const nodes = await Promise.all([0, 1].map(() => start({ logger: false, engine: new RedisEngine({ url, prefix }), canPublish: () => true })));
    const sender = await open(nodes[0]!.url);
    const near = await open(nodes[0]!.url);
    const far = await open(nodes[1]!.url);
    for (const peer of [sender, near, far]) await peer.subscribe('typing');
    for (let i = 0; i < 5; i++) sender.send({ type: 'publish', channel: 'typing', event: 'typing', data: i, exceptSelf: true, id: `t${i}` });
    sender.send({ type: 'publish', channel: 'typing', event: 'typing', data: 'echoed', id: 'plain' });
    for (const peer of [near, far]) {
      await expect.poll(() => peer.messages.filter((m) => m.channel === 'typing' && 'data' in m).length, { timeout: 5000 }).toBe(6);
      expect(peer.messages.filter((m) => m.channel === 'typing' && 'data' in m).map((m) => [m.offset, m.data])).toEqual([[1, 0], [2, 1], [3, 2], [4, 3], [5, 4], [6, 'echoed']]);
    }
    const history = await nodes[1]!.hub.history('typing', { limit: 10 });
    expect(history.messages).toHaveLength(6);
    await sentinel(nodes[0]!.hub, 'typing', [sender]);
    expect(sender.messages.filter((m) => m.channel === 'typing' && 'data' in m).map((m) => m.data)).toEqual(['echoed']);
  });
});
