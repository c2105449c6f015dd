import { describe, expect, it, vi } from 'vitest';
import type { HubEventMap } from '../../pkg/index.js';
import { serverSessions } from '../helpers.js';
import { fakeHub, keep, lineTransport, turn } from './loop-fixtures.js';

/** The events the loop emits, with every field they carry. */

const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('message.delivered', () => {
  it('counts a turn\'s messages of a channel and the connections that got any of them: not those filtered out, nor those still subscribing', async () => {
    const { hub, engine, connect, subscribe } = fakeHub({ maxWriteDelay: 0 });
    const delivered: Array<HubEventMap['message.delivered']> = [];
    hub.on('message.delivered', (event) => delivered.push(event));
    const [all, picky, own, joining] = [connect(), connect(), connect(), connect()];
    await subscribe(all, 'room');
    await subscribe(picky, 'room', { filter: { kind: 'a' } });
    await subscribe(own, 'room');
    engine.holdHistory = true;
    joining.say({ type: 'subscribe', channel: 'room' });
    await vi.waitFor(() => expect(engine.waiting).toBe(1));
    const ownId = serverSessions(hub)[2]!.id;
    engine.publish('room', 'm', '"1"', keep, { from: { client: ownId, echo: false }, tags: { kind: 'b' }, trace: { ts: 1_700_000_000_000, tp: TRACE } });
    engine.publish('room', 'm', '"2"', keep, { tags: { kind: 'b' } });
    await vi.waitFor(() => expect(all.offsets('room')).toEqual([1, 2]));
    expect(own.offsets('room')).toEqual([2]);
    expect(picky.offsets('room')).toEqual([]);
    expect(delivered).toEqual([{ channel: 'room', messages: 2, sessions: 2, publishedAt: [1_700_000_000_000], traceparents: [TRACE] }]);
  });

  it('is not emitted for a channel without connections here, nor for everyone\'s channel on a node without connections', async () => {
    const { hub, engine, connect, subscribe } = fakeHub({ maxWriteDelay: 0 });
    const delivered: Array<HubEventMap['message.delivered']> = [];
    hub.on('message.delivered', (event) => delivered.push(event));
    engine.publish('*', 'm', '"nobody"', keep);
    engine.publish('elsewhere', 'm', '"nobody"', keep);
    await turn();
    const ws = connect();
    await subscribe(ws, 'room');
    engine.publish('room', 'm', '"sentinel"', keep);
    await vi.waitFor(() => expect(delivered).toHaveLength(1));
    expect(delivered).toEqual([{ channel: 'room', messages: 1, sessions: 1, publishedAt: [], traceparents: [] }]);
    const other = connect();
    await vi.waitFor(() => expect(hub.info().clients).toBe(2));
    engine.publish('*', 'm', '"all"', keep);
    await vi.waitFor(() => expect(other.received()).toEqual([{ channel: '*', type: 'm', data: 'all', offset: 2 }]));
    expect(delivered.slice(1)).toEqual([{ channel: '*', messages: 1, sessions: 2, publishedAt: [], traceparents: [] }]);
  });
});

describe('connection.opened and connection.closed', () => {
  it('tell each connection\'s id, transport and user, and how it closed: its code and reason when known', async () => {
    const { hub, connect } = fakeHub({ maxWriteDelay: 0 });
    const lines = lineTransport(hub);
    const events: Array<[string, unknown]> = [];
    hub.on('connection.opened', (event) => events.push(['opened', event]));
    hub.on('connection.closed', (event) => events.push(['closed', event]));
    const leaving = connect();
    const ada = connect({ userId: 'ada' });
    const cut = connect();
    const streamed = lines.open();
    await vi.waitFor(() => expect(hub.info().clients).toBe(4));
    const [leavingId, adaId, cutId, streamedId] = serverSessions(hub).map((s) => s.id);
    expect(hub.info().connections).toEqual({ websocket: 3, lines: 1 });
    leaving.leave(4100, 'bye');
    void hub.disconnectUser('ada', 'banned');
    await vi.waitFor(() => expect(ada.closedWith).not.toBeNull());
    cut.terminate();
    streamed.events.closed();
    await vi.waitFor(() => expect(hub.info().clients).toBe(0));
    const session = (id: string | undefined, transport: string, userId: string | null) => ({ id, transport, userId });
    expect(events.slice(0, 4)).toEqual([
      ['opened', { session: session(leavingId, 'websocket', null) }],
      ['opened', { session: session(adaId, 'websocket', 'ada') }],
      ['opened', { session: session(cutId, 'websocket', null) }],
      ['opened', { session: session(streamedId, 'lines', null) }],
    ]);
    expect(events.slice(4)).toEqual(expect.arrayContaining([
      ['closed', { session: session(leavingId, 'websocket', null), code: 4100, reason: 'bye' }],
      ['closed', { session: session(adaId, 'websocket', 'ada'), code: 4503, reason: 'banned' }],
      ['closed', { session: session(cutId, 'websocket', null), code: 1006, reason: '' }],
      ['closed', { session: session(streamedId, 'lines', null) }],
    ]));
    expect(events).toHaveLength(8);
    expect(hub.info()).toMatchObject({ connections: { websocket: 0, lines: 0 }, users: 0 });
  });

  it('are not emitted for a connection that closed before its first turn on the hub', async () => {
    const { hub, connect } = fakeHub({ maxWriteDelay: 0 });
    const events: string[] = [];
    hub.onEvent((name) => { if (name.startsWith('connection.')) events.push(name); });
    connect().terminate();
    const kept = connect();
    await vi.waitFor(() => expect(events).toEqual(['connection.opened']));
    await kept.sync();
    expect(events).toEqual(['connection.opened']);
    expect(hub.info()).toMatchObject({ clients: 1, connections: { websocket: 1 } });
  });
});

describe('subscribed and unsubscribed', () => {
  it('tell the connection and the channel, and whether a resumed subscribe recovered', async () => {
    const { hub, engine, connect, subscribe } = fakeHub({ maxWriteDelay: 0 });
    const events: Array<[string, unknown]> = [];
    hub.on('subscribed', (event) => events.push(['subscribed', event]));
    hub.on('unsubscribed', (event) => events.push(['unsubscribed', event]));
    const ws = connect({ userId: 'ada' });
    await subscribe(ws, 'room');
    const { epoch } = ws.received()[0];
    engine.publish('room', 'm', '"1"', keep);
    await subscribe(ws, 'back', { since: { offset: 0, epoch: 'gone' } });
    ws.say({ type: 'unsubscribe', channel: 'room' });
    await ws.sync();
    await subscribe(ws, 'room', { since: { offset: 0, epoch } });
    const session = { id: serverSessions(hub)[0]!.id, transport: 'websocket', userId: 'ada' };
    expect(events).toEqual([
      ['subscribed', { session, channel: 'room' }],
      ['subscribed', { session, channel: 'back', recovered: false }],
      ['unsubscribed', { session, channel: 'room' }],
      ['subscribed', { session, channel: 'room', recovered: true }],
    ]);
  });
});
