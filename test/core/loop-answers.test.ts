import { describe, expect, it, vi } from 'vitest';
import { serverSessions } from '../helpers.js';
import { fakeHub, keep, type FakeWs } from './loop-fixtures.js';

/**
 * A subscribe's answer and the live traffic around it: what a connection gets while the hub reads
 * where the stream stands, in which order, and never twice.
 */

/** What a connection got, one line each: `subscribed room 3 #s1`, `room 4`, `error too_many_channels #x`. */
function got(ws: FakeWs): string[] {
  return ws.received().map((m) => {
    if ('data' in m && m.type !== 'reply') return `${m.channel} ${m.offset}`;
    const parts = [m.type, m.code, m.channel, m.offset, m.recovered === undefined ? undefined : `recovered=${m.recovered}`]
      .filter((p) => p !== undefined);
    return `${parts.join(' ')}${m.id === undefined ? '' : ` #${JSON.stringify(m.id)}`}`;
  });
}

/** A hub where `live` is subscribed to `room` and has offset 1 of it: a publication before anyone else came. */
async function withLiveSubscriber(options = {}) {
  const fixture = fakeHub({ maxWriteDelay: 0, ...options });
  const live = fixture.connect();
  await fixture.subscribe(live, 'room');
  fixture.engine.publish('room', 'm', '"first"', keep);
  await vi.waitFor(() => expect(live.offsets('room')).toEqual([1]));
  return { ...fixture, live };
}

describe('a subscribe answered while publications arrive', () => {
  it('holds the live messages published while it reads the stream and sends them after the answer, in order, once each', async () => {
    const { engine, connect, live } = await withLiveSubscriber();
    const late = connect();
    engine.holdHistory = true;
    late.say({ type: 'subscribe', channel: 'room', id: 's1' });
    await vi.waitFor(() => expect(engine.waiting).toBe(1));
    // Two publications fanned out, each in a turn of its own, while the read waits: held for `late`.
    engine.publish('room', 'm', '"2"', keep);
    await vi.waitFor(() => expect(live.offsets('room')).toEqual([1, 2]));
    engine.publish('room', 'm', '"3"', keep);
    await vi.waitFor(() => expect(live.offsets('room')).toEqual([1, 2, 3]));
    await late.sync();
    expect(late.received()).toEqual([]);
    // The read sees offset 3; the answer says 1, the position before what was held, which follows.
    engine.release();
    await late.sync();
    expect(got(late)).toEqual(['subscribed room 1 #"s1"', 'room 2', 'room 3']);
    expect(late.received()[1]).toEqual({ channel: 'room', type: 'm', data: '2', offset: 2 });
    engine.publish('room', 'm', '"4"', keep);
    await vi.waitFor(() => expect(late.offsets('room')).toEqual([2, 3, 4]));
    await late.sync();
    expect(got(late)).toEqual(['subscribed room 1 #"s1"', 'room 2', 'room 3', 'room 4']);
  });

  it('answers a resumed subscribe with the replay up to the position read, and drops the held messages the replay already has', async () => {
    const { engine, connect, live } = await withLiveSubscriber();
    const epoch = live.received()[0].epoch;
    const back = connect();
    engine.holdHistory = true;
    back.say({ type: 'subscribe', channel: 'room', id: 7, since: { offset: 1, epoch } });
    await vi.waitFor(() => expect(engine.waiting).toBe(1));
    engine.publish('room', 'm', '"2"', keep);
    await vi.waitFor(() => expect(live.offsets('room')).toEqual([1, 2]));
    engine.publish('room', 'm', '"3"', keep);
    await vi.waitFor(() => expect(live.offsets('room')).toEqual([1, 2, 3]));
    engine.release();
    await back.sync();
    expect(got(back)).toEqual(['subscribed room 3 recovered=true #7', 'room 2', 'room 3']);
    engine.publish('room', 'm', '"4"', keep);
    await vi.waitFor(() => expect(back.offsets('room')).toEqual([2, 3, 4]));
  });

  it('keeps a held message from the connection that published it except-self, and the held messages its filter leaves out', async () => {
    const { hub, engine, connect, live } = await withLiveSubscriber();
    const own = connect();
    const picky = connect();
    await vi.waitFor(() => expect(hub.info().clients).toBe(3));
    const ownId = serverSessions(hub)[1]!.id;
    engine.holdHistory = true;
    own.say({ type: 'subscribe', channel: 'room', id: 'o' });
    picky.say({ type: 'subscribe', channel: 'room', id: 'p', filter: { kind: 'a' } });
    await vi.waitFor(() => expect(engine.waiting).toBe(2));
    engine.publish('room', 'm', '"mine"', keep, { from: { client: ownId, echo: false }, tags: { kind: 'a' } });
    engine.publish('room', 'm', '"b"', keep, { tags: { kind: 'b' } });
    engine.publish('room', 'm', '"a"', keep, { tags: { kind: 'a' } });
    await vi.waitFor(() => expect(live.offsets('room')).toEqual([1, 2, 3, 4]));
    await own.sync();
    await picky.sync();
    engine.release();
    await own.sync();
    await picky.sync();
    expect(got(own)).toEqual(['subscribed room 1 #"o"', 'room 3', 'room 4']);
    expect(got(picky)).toEqual(['subscribed room 1 #"p"', 'room 2', 'room 4']);
    // Past the held ones, the next message comes once.
    engine.publish('room', 'm', '"after"', keep, { tags: { kind: 'a' } });
    await vi.waitFor(() => expect(picky.offsets('room')).toEqual([2, 4, 5]));
    await vi.waitFor(() => expect(own.offsets('room')).toEqual([3, 4, 5]));
  });
});

describe('a subscription\'s filter', () => {
  it('goes with the subscription: the channel subscribed again without one gets every message', async () => {
    const { engine, connect, subscribe } = fakeHub({ maxWriteDelay: 0 });
    const ws = connect();
    await subscribe(ws, 'room', { filter: { kind: 'a' } });
    engine.publish('room', 'm', '"b"', keep, { tags: { kind: 'b' } });
    engine.publish('room', 'm', '"a"', keep, { tags: { kind: 'a' } });
    await vi.waitFor(() => expect(ws.offsets('room')).toEqual([2]));
    ws.say({ type: 'unsubscribe', channel: 'room' });
    await subscribe(ws, 'room');
    engine.publish('room', 'm', '"b"', keep, { tags: { kind: 'b' } });
    await vi.waitFor(() => expect(ws.offsets('room')).toEqual([2, 3]));
  });

  it('of another channel stays when a filtered channel is left', async () => {
    const { engine, connect, subscribe } = fakeHub({ maxWriteDelay: 0 });
    const ws = connect();
    await subscribe(ws, 'left', { filter: { kind: 'a' } });
    await subscribe(ws, 'kept', { filter: { kind: 'a' } });
    ws.say({ type: 'unsubscribe', channel: 'left' });
    await ws.sync();
    engine.publish('kept', 'm', '"b"', keep, { tags: { kind: 'b' } });
    engine.publish('kept', 'm', '"a"', keep, { tags: { kind: 'a' } });
    await vi.waitFor(() => expect(ws.offsets('kept')).toEqual([2]));
    await ws.sync();
    expect(ws.offsets('kept')).toEqual([2]);
  });
});

describe('a batch only partly above a just-subscribed connection\'s position', () => {
  /**
   * `late` subscribes while the read is held; offsets 2 and 3 are published, the read is let through
   * (it sees 3) and offset 4 is published, all before the loop's next turn: that turn answers the
   * subscribe at 3, then fans out the batch 2, 3, 4, only partly above it.
   */
  async function raced(extra: object = {}) {
    const fixture = await withLiveSubscriber();
    const { engine, connect, hub } = fixture;
    const late = connect();
    engine.holdHistory = true;
    late.say({ type: 'subscribe', channel: 'room', id: 's', ...extra });
    await vi.waitFor(() => expect(engine.waiting).toBe(1));
    const frames = hub.info().frames;
    engine.publish('room', 'm', '"2"', keep, { tags: { kind: 'a' } });
    engine.publish('room', 'm', '"3"', keep, { tags: { kind: 'a' } });
    engine.release();
    engine.publish('room', 'm', '"4"', keep, { tags: { kind: 'a' } });
    await vi.waitFor(() => expect(fixture.live.offsets('room')).toEqual([1, 2, 3, 4]));
    return { ...fixture, late, frames };
  }

  it('gets each offset above its position exactly once, in order, and counts only those', async () => {
    const { hub, engine, late, frames } = await raced();
    await vi.waitFor(() => expect(late.offsets('room')).toEqual([4]));
    // The live subscriber's 3 messages, the answer and the 1 message above it.
    expect(hub.info().frames - frames).toBe(5);
    expect(got(late)).toEqual(['subscribed room 3 #"s"', 'room 4']);
    engine.publish('room', 'm', '"5"', keep);
    engine.publish('room', 'm', '"6"', keep);
    await vi.waitFor(() => expect(late.offsets('room')).toEqual([4, 5, 6]));
    await late.sync();
    expect(got(late)).toEqual(['subscribed room 3 #"s"', 'room 4', 'room 5', 'room 6']);
  });

  it('gets each offset above its position exactly once with a filter of its own', async () => {
    const { engine, late } = await raced({ filter: { kind: 'a' } });
    await vi.waitFor(() => expect(late.offsets('room')).toEqual([4]));
    engine.publish('room', 'm', '"5"', keep, { tags: { kind: 'a' } });
    await vi.waitFor(() => expect(late.offsets('room')).toEqual([4, 5]));
    await late.sync();
    expect(got(late)).toEqual(['subscribed room 3 #"s"', 'room 4', 'room 5']);
  });

  it('gets nothing of a late batch wholly at or below its position, and everything of the next', async () => {
    const { engine, connect, live } = await withLiveSubscriber();
    const late = connect();
    engine.holdHistory = true;
    late.say({ type: 'subscribe', channel: 'room', id: 's' });
    await vi.waitFor(() => expect(engine.waiting).toBe(1));
    engine.publish('room', 'm', '"2"', keep);
    engine.publish('room', 'm', '"3"', keep);
    engine.release();
    await vi.waitFor(() => expect(live.offsets('room')).toEqual([1, 2, 3]));
    await late.sync();
    expect(got(late)).toEqual(['subscribed room 3 #"s"']);
    engine.publish('room', 'm', '"4"', keep);
    await vi.waitFor(() => expect(late.offsets('room')).toEqual([4]));
  });
});

describe('the ids of the loop\'s replies', () => {
  it('echoes each subscribe\'s id exactly, a string or a number (0 too), with its own answer when the answers come in another order than the subscribes', async () => {
    const { engine, connect } = fakeHub({ maxWriteDelay: 0 });
    const ws = connect();
    engine.holdHistory = true;
    ws.say({ type: 'subscribe', channel: 'a', id: 'first' });
    await vi.waitFor(() => expect(engine.waiting).toBe(1));
    engine.holdHistory = false;
    engine.publish('b', 'm', '"x"', keep);
    await ws.sync();
    ws.say({ type: 'subscribe', channel: 'b', id: 0 });
    ws.say({ type: 'subscribe', channel: 'c', id: 12 });
    await ws.sync();
    expect(got(ws)).toEqual(['subscribed b 1 #0', 'subscribed c 0 #12']);
    engine.release();
    await ws.sync();
    expect(got(ws)).toEqual(['subscribed b 1 #0', 'subscribed c 0 #12', 'subscribed a 0 #"first"']);
    ws.say({ type: 'unsubscribe', channel: 'b', id: 'u-b' });
    ws.say({ type: 'unsubscribe', channel: 'a', id: 0 });
    ws.say({ type: 'unsubscribe', channel: 'c' });
    await ws.sync();
    expect(got(ws).slice(3)).toEqual(['unsubscribed b #"u-b"', 'unsubscribed a #0', 'unsubscribed c']);
  });

  it('puts the id on the refusals and on the answer for everyone\'s channel, and none on a subscribe sent without one', async () => {
    const { engine, connect, subscribe } = fakeHub({ maxWriteDelay: 0, maxChannelsPerClient: 1 });
    const ws = connect();
    await subscribe(ws, 'a');
    ws.say({ type: 'subscribe', channel: 'a', id: 'again' });
    ws.say({ type: 'subscribe', channel: 'b', id: 5 });
    ws.say({ type: 'subscribe', channel: '*', id: 'all' });
    await ws.sync();
    expect(got(ws)).toEqual(['subscribed a 0', 'error already_subscribed a #"again"', 'error too_many_channels b #5', 'subscribed * #"all"']);
    expect(ws.received()[2].message).toBe('at most 1 channels per connection');
    expect(engine.subscribed).toEqual(['a']);
  });

  it('answers a subscribe to the connection\'s own personal channel at the channel limit, as personal, without joining it twice', async () => {
    const { hub, connect, subscribe } = fakeHub({ maxWriteDelay: 0, maxChannelsPerClient: 2 });
    const ws = connect({ userId: 'ada' });
    await subscribe(ws, 'room');
    ws.say({ type: 'subscribe', channel: 'user:ada', id: 'me' });
    await ws.sync();
    ws.say({ type: 'subscribe', channel: 'other', id: 'o' });
    await ws.sync();
    expect(ws.received()).toEqual([
      { type: 'subscribed', channel: 'room', offset: 0, epoch: expect.any(String) },
      { type: 'subscribed', channel: 'user:ada', offset: 0, epoch: expect.any(String), personal: true, id: 'me' },
      { type: 'error', code: 'too_many_channels', channel: 'other', message: 'at most 2 channels per connection', id: 'o' },
    ]);
    expect(hub.info()).toMatchObject({ channels: 2, subscriptions: 2 });
  });

  it('answers a subscribe whose read failed with unavailable and its own id, and leaves the channel', async () => {
    const { hub, engine, connect, logs } = fakeHub({ maxWriteDelay: 0 });
    const ws = connect();
    engine.holdHistory = true;
    ws.say({ type: 'subscribe', channel: 'a', id: 'broken' });
    ws.say({ type: 'subscribe', channel: 'b', id: 'fine' });
    await vi.waitFor(() => expect(engine.waiting).toBe(2));
    engine.holdHistory = false;
    engine.release(new Error('store gone'));
    await ws.sync();
    expect(ws.received()).toEqual([
      { type: 'error', code: 'unavailable', channel: 'a', message: 'subscribe to a failed; retry later', id: 'broken' },
      { type: 'error', code: 'unavailable', channel: 'b', message: 'subscribe to b failed; retry later', id: 'fine' },
    ]);
    expect(hub.info()).toMatchObject({ channels: 0, subscriptions: 0 });
    expect(engine.unsubscribed).toEqual(['a', 'b']);
    expect(logs.find((l) => l.code === 'subscribe_failed')).toMatchObject({
      level: 'error',
      message: 'livehub: subscribe to a failed reading its stream position: store gone; the client was answered \'unavailable\' and retries',
    });
  });
});
