import { describe, expect, it, vi } from 'vitest';
import { fakeHub, keep } from './loop-fixtures.js';

/**
 * What the loop sends a client of the plain protocol (no `livehub.v1` subprotocol: the Go hub's
 * clients), which takes every frame with a channel for a message: messages, errors without the
 * channel key, and the replies to requests that carry an id.
 */
describe('replies to a client of the plain protocol', () => {
  it('sends it no connected frame, no subscribe or unsubscribe answer without an id, and the messages', async () => {
    const { engine, connect } = fakeHub({ maxWriteDelay: 0 });
    const plain = connect(null, '');
    const full = connect();
    plain.say({ type: 'subscribe', channel: 'room' });
    full.say({ type: 'subscribe', channel: 'room' });
    await vi.waitFor(() => expect(engine.subscribed).toEqual(['room']));
    await full.sync();
    engine.publish('room', 'm', '"hi"', keep);
    await vi.waitFor(() => expect(full.offsets('room')).toEqual([1]));
    plain.say({ type: 'unsubscribe', channel: 'room' });
    await plain.sync();
    expect(plain.all().filter((m) => m.type !== 'pong')).toEqual([{ channel: 'room', type: 'm', data: 'hi', offset: 1 }]);
    expect(full.all()[0]).toEqual({ type: 'connected', heartbeat: 4000 });
  });

  it('sends it an error about a channel with the channel named in the text instead of a channel key', async () => {
    const { connect } = fakeHub({ maxWriteDelay: 0, maxChannelsPerClient: 1 });
    const plain = connect(null, '');
    plain.say({ type: 'subscribe', channel: 'a' });
    plain.say({ type: 'subscribe', channel: 'b' });
    await plain.sync();
    expect(plain.received()).toEqual([{ type: 'error', code: 'too_many_channels', message: 'at most 1 channels per connection (channel b)' }]);
  });

  it('sends it the answers to the subscribes and unsubscribes that carry an id, with their channel', async () => {
    const { connect } = fakeHub({ maxWriteDelay: 0 });
    const plain = connect(null, '');
    plain.say({ type: 'subscribe', channel: 'a', id: 1 });
    plain.say({ type: 'subscribe', channel: 'a', id: 'again' });
    await vi.waitFor(() => expect(plain.received().map((m) => m.type)).toEqual(['error', 'subscribed']));
    plain.say({ type: 'unsubscribe', channel: 'a', id: 'u' });
    await plain.sync();
    expect(plain.received()).toEqual([
      { type: 'error', code: 'already_subscribed', channel: 'a', message: 'already subscribed to a; the subscription stands', id: 'again' },
      { type: 'subscribed', channel: 'a', offset: 0, epoch: expect.any(String), id: 1 },
      { type: 'unsubscribed', channel: 'a', id: 'u' },
    ]);
  });
});

describe('the first frame of a connection', () => {
  it('announces the heartbeat period to a client of the full protocol, and nothing when the hub sends no heartbeats', async () => {
    const beating = fakeHub({ maxWriteDelay: 0, heartbeatPeriod: 2500 }).connect();
    const silent = fakeHub({ maxWriteDelay: 0, heartbeatPeriod: Infinity }).connect();
    await beating.sync();
    await silent.sync();
    expect(beating.all()[0]).toEqual({ type: 'connected', heartbeat: 2500 });
    expect(silent.all()[0]).toMatchObject({ type: 'pong' });
  });
});
