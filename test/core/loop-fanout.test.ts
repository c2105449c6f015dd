import { describe, expect, it, vi } from 'vitest';
import { fakeHub, keep, LineTransport, lineTransport } from './loop-fixtures.js';

/** How the loop encodes a turn's messages of a channel for connections of different wire formats. */
describe('the fan-out to connections of two wire formats', () => {
  it('encodes a channel\'s batch once per format, and gives each connection its own format\'s encoding', async () => {
    const { hub, engine, connect, subscribe } = fakeHub({ maxWriteDelay: 0 });
    const lines = lineTransport(hub);
    const ws1 = connect();
    await subscribe(ws1, 'room');
    const [lines1, lines2] = [lines.open(), lines.open()];
    lines1.say({ type: 'subscribe', channel: 'room' });
    lines2.say({ type: 'subscribe', channel: 'room' });
    const ws2 = connect();
    await subscribe(ws2, 'room');
    await vi.waitFor(() => expect(hub.info().subscriptions).toBe(4));
    await ws1.sync();
    LineTransport.encoded = [];
    ws1._socket.written = [];
    ws2._socket.written = [];
    engine.publish('room', 'm', '"1"', keep);
    engine.publish('room', 'm', '"2"', keep);
    await vi.waitFor(() => expect(ws2.offsets('room')).toEqual([1, 2]));
    expect(ws1.offsets('room')).toEqual([1, 2]);
    expect(ws1._socket.written).toHaveLength(1);
    expect(ws1._socket.written[0]).toBe(ws2._socket.written[0]);
    expect(LineTransport.encoded).toEqual([['1', '2']]);
    expect(lines1.offsets('room')).toEqual([1, 2]);
    expect(lines2.offsets('room')).toEqual([1, 2]);
    expect(lines1.written.at(-1)).toBe('{"channel":"room","type":"m","data":"2","offset":2}');
  });

  it('encodes the first connection\'s format for everyone of it when that format is not the websocket\'s', async () => {
    const { hub, engine, connect, subscribe } = fakeHub({ maxWriteDelay: 0 });
    const lines = lineTransport(hub);
    const first = lines.open();
    first.say({ type: 'subscribe', channel: 'room' });
    await vi.waitFor(() => expect(hub.info().subscriptions).toBe(1));
    const ws = connect();
    await subscribe(ws, 'room');
    const second = lines.open();
    second.say({ type: 'subscribe', channel: 'room' });
    await vi.waitFor(() => expect(hub.info().subscriptions).toBe(3));
    await ws.sync();
    LineTransport.encoded = [];
    engine.publish('room', 'm', '"x"', keep);
    await vi.waitFor(() => expect(second.offsets('room')).toEqual([1]));
    expect(first.offsets('room')).toEqual([1]);
    expect(ws.offsets('room')).toEqual([1]);
    expect(LineTransport.encoded).toEqual([['1']]);
  });

  it('encodes for a just-subscribed connection only the offsets of a batch above its position, in its own format', async () => {
    const { hub, engine, connect, subscribe } = fakeHub({ maxWriteDelay: 0 });
    const lines = lineTransport(hub);
    const live = connect();
    await subscribe(live, 'room');
    engine.publish('room', 'm', '"1"', keep);
    await vi.waitFor(() => expect(live.offsets('room')).toEqual([1]));
    const late = lines.open();
    engine.holdHistory = true;
    late.say({ type: 'subscribe', channel: 'room', id: 's' });
    await vi.waitFor(() => expect(engine.waiting).toBe(1));
    LineTransport.encoded = [];
    // The read sees offset 3; the loop's next turn answers at 3, then fans out 2, 3 and 4.
    engine.publish('room', 'm', '"2"', keep);
    engine.publish('room', 'm', '"3"', keep);
    engine.release();
    engine.publish('room', 'm', '"4"', keep);
    await vi.waitFor(() => expect(late.offsets('room')).toEqual([4]));
    expect(LineTransport.encoded).toEqual([['4']]);
    expect(live.offsets('room')).toEqual([1, 2, 3, 4]);
  });

  it('frames a reply with the transport\'s own reply framing when it has one', async () => {
    const { hub } = fakeHub({ maxWriteDelay: 0 });
    const client = lineTransport(hub).open();
    client.say({ type: 'ping', id: 'p' });
    await vi.waitFor(() => expect(client.replies.map((r) => r.reply)).toEqual([{ type: 'connected', heartbeat: 4000 }, { type: 'pong', id: 'p' }]));
    expect(client.replies[1]!.json).toBe('{"type":"pong","id":"p"}');
    expect(client.written).toEqual(['{"type":"connected","heartbeat":4000}', '{"type":"pong","id":"p"}']);
  });
});
