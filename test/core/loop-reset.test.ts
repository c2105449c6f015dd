import { describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient, type GapEvent, type WebSocketConstructor } from '../../client/index.js';
import { Peer, perTest, sentinel, subscribers } from '../helpers.js';
import { keep, ScriptedEngine } from './loop-fixtures.js';

/**
 * A reset: the engine could not continue a channel's stream (its history lost, a gap no longer in
 * history). The loop tells the channel's subscribers where the stream stands now, and livehub's
 * client takes that as a gap and follows the new stream. Real sockets, the real client.
 */

const { start, cleanup } = perTest();

async function setup() {
  const engine = new ScriptedEngine();
  const s = await start({ engine, logger: false });
  const peer = (options?: { protocols?: string[] }) => Peer.open(s.url, options).then((p) => { cleanup(() => p.close()); return p; });
  return { engine, s, peer };
}

describe('a reset of a channel\'s stream', () => {
  it('reaches livehub\'s client as a gap from its last position to the new one, after which it takes the new stream\'s messages', async () => {
    const { engine, s } = await setup();
    const client = new LiveClient(s.url, { WebSocket: WebSocket as unknown as WebSocketConstructor });
    cleanup(() => client.dispose());
    const got: unknown[] = [];
    const gaps: GapEvent[] = [];
    client.on('room', (data) => got.push(data));
    client.events.on('gap', (gap) => gaps.push(gap));
    await vi.waitFor(() => expect(client.position('room')).toBeDefined());
    const { epoch } = client.position('room')!;
    for (const n of [1, 2, 3]) engine.publish('room', 'm', `${n}`, keep);
    await vi.waitFor(() => expect(got).toEqual([1, 2, 3]));
    engine.handlers.reset('room', { offset: 1, epoch: 'new' });
    await vi.waitFor(() => expect(gaps).toEqual([{ channel: 'room', position: { offset: 1, epoch: 'new' }, since: { offset: 3, epoch } }]));
    expect(client.position('room')).toEqual({ offset: 1, epoch: 'new' });
    // Offset 2 of the new stream is news, though the old stream's 3 was seen; 1 is where it stands.
    engine.handlers.deliver({ channel: 'room', offset: 1, epoch: 'new', type: 'm', data: '"one"' });
    engine.handlers.deliver({ channel: 'room', offset: 2, epoch: 'new', type: 'm', data: '"two"' });
    await vi.waitFor(() => expect(got).toEqual([1, 2, 3, 'two']));
    expect(client.position('room')).toEqual({ offset: 2, epoch: 'new' });
  });

  it('is sent to the channel\'s subscribers of the full protocol only: not to a plain client, nor to another channel\'s', async () => {
    const { engine, s, peer } = await setup();
    const [full, plain, other] = await Promise.all([peer(), peer({ protocols: [] }), peer()]);
    await full.subscribe('room');
    plain.send({ type: 'subscribe', channel: 'room' });
    // A client of the plain protocol gets no answer: its subscribe has been taken in once it counts.
    await vi.waitFor(() => expect(subscribers(s.hub, 'room')).toBe(2));
    await sentinel(s.hub, 'room', [full, plain]);
    await other.subscribe('hall');
    engine.handlers.reset('room', { offset: 7, epoch: 'e2' });
    expect(await full.next((m) => m.type === 'reset')).toEqual({ type: 'reset', channel: 'room', offset: 7, epoch: 'e2' });
    await Promise.all([full.sync(), plain.sync(), other.sync()]);
    expect([full.messages, plain.messages, other.messages]).toEqual([[], [], []]);
  });
});
