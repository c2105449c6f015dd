import { describe, expect, it, vi } from 'vitest';
import { fakeHub, keep, turn } from './loop-fixtures.js';

/**
 * Connections that leave while the loop works for them, and the engine subscriptions the loop keeps:
 * one per channel with subscribers on this node, none left behind.
 */

describe('a connection that leaves while its subscribe is answered', () => {
  it('gets no answer when it closed while its position was read, and its channel and engine subscription go', async () => {
    const { hub, engine, connect } = fakeHub({ maxWriteDelay: 0 });
    const subscribed: string[] = [];
    hub.on('subscribed', (event) => subscribed.push(event.channel));
    const ws = connect();
    engine.holdHistory = true;
    ws.say({ type: 'subscribe', channel: 'room', id: 's1' });
    await vi.waitFor(() => expect(engine.waiting).toBe(1));
    expect(hub.info()).toMatchObject({ clients: 1, channels: 1, subscriptions: 1 });
    ws.terminate();
    await vi.waitFor(() => expect(hub.info().clients).toBe(0));
    expect(hub.info()).toMatchObject({ channels: 0, subscriptions: 0 });
    engine.holdHistory = false;
    engine.release();
    // A sentinel connection's answer comes after whatever the released read led to.
    const other = connect();
    other.say({ type: 'subscribe', channel: 'other' });
    await vi.waitFor(() => expect(subscribed).toEqual(['other']));
    expect(engine.calls).toEqual(['subscribe room', 'history room', 'unsubscribe room', 'subscribe other', 'history other']);
    expect(ws.received()).toEqual([]);
    expect(hub.info()).toMatchObject({ clients: 1, channels: 1, subscriptions: 1 });
  });

  it('gets no answer, and no subscribed event is emitted, when the hub closed it in the turn before the answer', async () => {
    // With a burst of one, the second message closes the connection (4003) in the turn that
    // reads the subscribe: the answer comes in the next turn, to a closing connection.
    const { hub, engine, connect } = fakeHub({ maxWriteDelay: 0, rateLimit: 1, rateLimitBurst: 1 });
    const subscribed: string[] = [];
    hub.on('subscribed', (event) => subscribed.push(event.channel));
    const ws = connect();
    await turn();
    ws.say({ type: 'subscribe', channel: 'room', id: 's1' });
    ws.say({ type: 'ping', id: 'too-many' });
    await vi.waitFor(() => expect(ws.closedWith).toEqual({ code: 4003, reason: 'rate limited' }));
    await vi.waitFor(() => expect(hub.info().clients).toBe(0));
    expect(engine.calls).toEqual(['subscribe room', 'history room', 'unsubscribe room']);
    const other = connect();
    other.say({ type: 'subscribe', channel: 'other' });
    await vi.waitFor(() => expect(subscribed).toEqual(['other']));
    expect(ws.received()).toEqual([]);
    expect(hub.info()).toMatchObject({ channels: 1, subscriptions: 1 });
  });

  it('does not lose the subscribe it made again to the failure of the read of the one it left', async () => {
    const { hub, engine, connect } = fakeHub({ maxWriteDelay: 0 });
    const ws = connect();
    engine.holdHistory = true;
    ws.say({ type: 'subscribe', channel: 'room', id: 's1' });
    await vi.waitFor(() => expect(engine.waiting).toBe(1));
    ws.say({ type: 'unsubscribe', channel: 'room', id: 'u1' });
    ws.say({ type: 'subscribe', channel: 'room', id: 's2' });
    await vi.waitFor(() => expect(engine.waiting).toBe(2));
    engine.releaseFirst(new Error('store gone'));
    await ws.sync();
    engine.releaseFirst();
    await vi.waitFor(() => expect(ws.received().map((m) => [m.type, m.id])).toEqual([['unsubscribed', 'u1'], ['subscribed', 's2']]));
    engine.publish('room', 'm', '"live"', keep);
    await vi.waitFor(() => expect(ws.offsets('room')).toEqual([1]));
    expect(hub.info()).toMatchObject({ channels: 1, subscriptions: 1 });
  });

  it('joins nothing, and leaves without an unsubscribed event, when a handler joins or leaves for it after it closed', async () => {
    const { hub, engine, connect } = fakeHub({ maxWriteDelay: 0 });
    const unsubscribed: string[] = [];
    hub.on('unsubscribed', (event) => unsubscribed.push(event.channel));
    let go!: () => void;
    const gate = new Promise<void>((resolve) => { go = resolve; });
    const done: string[] = [];
    hub.handle('later', async (_message, _context, kit) => {
      await gate;
      await kit.join('room');
      await kit.leave('hall');
      done.push('joined and left');
    });
    const ws = connect();
    ws.say({ type: 'subscribe', channel: 'hall' });
    await vi.waitFor(() => expect(ws.received().map((m) => m.type)).toEqual(['subscribed']));
    ws.say({ type: 'later', id: 'l1' });
    await ws.sync();
    ws.terminate();
    await vi.waitFor(() => expect(hub.info().clients).toBe(0));
    go();
    await vi.waitFor(() => expect(done).toEqual(['joined and left']));
    const other = connect();
    other.say({ type: 'unsubscribe', channel: 'sentinel' });
    await vi.waitFor(() => expect(unsubscribed).toEqual(['sentinel']));
    expect(engine.subscribed).toEqual(['hall']);
    expect(hub.info()).toMatchObject({ channels: 0, subscriptions: 0 });
  });
});

describe('connections the loop closes', () => {
  it('writes what was queued for a connection before the close that the loop runs for it', async () => {
    // A burst of two: the third message is dropped and answered rate_limited, the fourth closes (4003).
    const { hub, connect } = fakeHub({ maxWriteDelay: 0, rateLimit: 1, rateLimitBurst: 2 });
    const ws = connect();
    await vi.waitFor(() => expect(hub.info().clients).toBe(1));
    for (let i = 1; i <= 4; i++) ws.say({ type: 'ping', id: `p${i}` });
    await vi.waitFor(() => expect(ws.closedWith).toEqual({ code: 4003, reason: 'rate limited' }));
    expect(ws.received()).toEqual([
      { type: 'pong', id: 'p1' },
      { type: 'pong', id: 'p2' },
      { type: 'error', code: 'rate_limited', message: 'too many messages; slow down' },
    ]);
  });

  it('closes a connection that registers while the hub closes with 1001', async () => {
    const { hub, connect } = fakeHub({ maxWriteDelay: 0 });
    const closing = hub.close();
    const late = connect();
    await vi.waitFor(() => expect(late.closedWith).toEqual({ code: 1001, reason: 'server shutting down' }));
    await closing;
    expect(hub.info().clients).toBe(0);
  });
});

describe('the engine subscriptions of the loop', () => {
  it('subscribes the engine with a channel\'s first subscriber, and unsubscribes it with the last, whichever way each leaves', async () => {
    const { hub, engine, connect, subscribe } = fakeHub({ maxWriteDelay: 0 });
    const [a, b, c] = [connect(), connect(), connect()];
    for (const ws of [a, b, c]) await subscribe(ws, 'room');
    await subscribe(c, 'hall');
    expect(engine.subscribed).toEqual(['room', 'hall']);
    expect(hub.info()).toMatchObject({ channels: 2, subscriptions: 4 });
    // Leaving a channel it is not in changes nothing (but is answered).
    b.say({ type: 'unsubscribe', channel: 'nowhere', id: 'n' });
    await b.sync();
    expect(b.received().at(-1)).toEqual({ type: 'unsubscribed', channel: 'nowhere', id: 'n' });
    expect(hub.info()).toMatchObject({ channels: 2, subscriptions: 4 });
    b.say({ type: 'unsubscribe', channel: 'room' });
    await b.sync();
    a.terminate();
    await vi.waitFor(() => expect(hub.info().clients).toBe(2));
    expect(engine.unsubscribed).toEqual([]);
    expect(hub.info()).toMatchObject({ channels: 2, subscriptions: 2 });
    c.leave(1000, 'done');
    await vi.waitFor(() => expect(engine.unsubscribed).toEqual(['room', 'hall']));
    expect(hub.info()).toMatchObject({ clients: 1, channels: 0, subscriptions: 0 });
  });

  it('subscribes a user\'s personal channel with the user\'s first connection and unsubscribes it with the last', async () => {
    const { hub, engine, connect } = fakeHub({ maxWriteDelay: 0 });
    const first = connect({ userId: 'ada' });
    const second = connect({ userId: 'ada' });
    await vi.waitFor(() => expect(hub.info()).toMatchObject({ clients: 2, users: 1, channels: 1, subscriptions: 2 }));
    expect(engine.subscribed).toEqual(['user:ada']);
    first.terminate();
    await vi.waitFor(() => expect(hub.info()).toMatchObject({ clients: 1, users: 1, subscriptions: 1 }));
    expect(engine.unsubscribed).toEqual([]);
    second.terminate();
    await vi.waitFor(() => expect(engine.unsubscribed).toEqual(['user:ada']));
    expect(hub.info()).toMatchObject({ clients: 0, users: 0, channels: 0, subscriptions: 0 });
  });

  it('reads a new channel\'s position only once its engine subscription is set up', async () => {
    const { engine, connect } = fakeHub({ maxWriteDelay: 0 });
    const ws = connect();
    engine.holdSubscribe = true;
    ws.say({ type: 'subscribe', channel: 'room', id: 's1' });
    await ws.sync();
    expect(engine.calls).toEqual(['subscribe room']);
    expect(ws.received()).toEqual([]);
    expect(engine.settleSubscribe()).toBe('room');
    await vi.waitFor(() => expect(ws.received()).toMatchObject([{ type: 'subscribed', channel: 'room', offset: 0, id: 's1' }]));
    expect(engine.calls).toEqual(['subscribe room', 'history room']);
  });

  it('has a read wait for the newest engine subscription of a channel left and joined again, not for one set up before', async () => {
    const { engine, connect } = fakeHub({ maxWriteDelay: 0 });
    const [a, b] = [connect(), connect()];
    engine.holdSubscribe = true;
    a.say({ type: 'subscribe', channel: 'room', id: 's1' });
    a.say({ type: 'unsubscribe', channel: 'room', id: 'u1' });
    a.say({ type: 'subscribe', channel: 'room', id: 's2' });
    await a.sync();
    expect(engine.calls).toEqual(['subscribe room', 'unsubscribe room', 'subscribe room']);
    engine.settleSubscribe(); // the first one: its read goes (its answer is dropped: that subscribe was left)
    await vi.waitFor(() => expect(engine.calls).toHaveLength(4));
    b.say({ type: 'subscribe', channel: 'room', id: 'b1' });
    await b.sync();
    expect(engine.calls).toEqual(['subscribe room', 'unsubscribe room', 'subscribe room', 'history room']);
    expect(b.received()).toEqual([]);
    engine.settleSubscribe();
    await vi.waitFor(() => expect(b.received()).toMatchObject([{ type: 'subscribed', id: 'b1' }]));
    expect(engine.calls.filter((call) => call === 'history room')).toHaveLength(3);
    expect(a.received().map((m) => [m.type, m.id])).toEqual([['unsubscribed', 'u1'], ['subscribed', 's2']]);
  });

  it('logs an engine subscription that fails, and answers the subscribe all the same', async () => {
    const { engine, connect, logs } = fakeHub({ maxWriteDelay: 0 });
    const ws = connect();
    engine.holdSubscribe = true;
    ws.say({ type: 'subscribe', channel: 'a', id: 'sa' });
    await ws.sync();
    engine.settleSubscribe(new Error('denied'));
    await vi.waitFor(() => expect(ws.received().map((m) => [m.type, m.channel, m.id])).toEqual([['subscribed', 'a', 'sa']]));
    expect(logs.filter((l) => l.code === 'engine_subscribe_failed').map((l) => [l.level, l.message])).toEqual([
      ['error', 'livehub: the engine could not subscribe to a: denied; its publications from other nodes may be late until the engine repairs it'],
    ]);
  });

  it('logs an engine subscription that throws, and answers the subscribe all the same', async () => {
    const { engine, connect, logs } = fakeHub({ maxWriteDelay: 0 });
    const ws = connect();
    engine.subscribeError = new Error('no connection');
    ws.say({ type: 'subscribe', channel: 'b', id: 'sb' });
    await vi.waitFor(() => expect(ws.received().map((m) => [m.type, m.channel, m.id])).toEqual([['subscribed', 'b', 'sb']]));
    expect(logs.filter((l) => l.code === 'engine_subscribe_failed').map((l) => [l.level, l.message])).toEqual([
      ['error', 'livehub: the engine could not subscribe to b: no connection; its publications from other nodes may be late until the engine repairs it'],
    ]);
  });

  it('logs an engine unsubscribe that throws, and still drops the channel', async () => {
    const { hub, engine, connect, subscribe, logs } = fakeHub({ maxWriteDelay: 0 });
    const ws = connect();
    await subscribe(ws, 'room');
    engine.unsubscribeError = new Error('link down');
    ws.say({ type: 'unsubscribe', channel: 'room' });
    await ws.sync();
    expect(engine.unsubscribed).toEqual(['room']);
    expect(hub.info()).toMatchObject({ channels: 0, subscriptions: 0 });
    expect(logs.filter((l) => l.code === 'engine_unsubscribe_failed').map((l) => [l.level, l.message])).toEqual([['error', 'livehub: link down']]);
  });
});
