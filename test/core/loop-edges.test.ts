import { describe, expect, it, vi } from 'vitest';
import { Peer, perTest } from '../helpers.js';
import { keep, ScriptedEngine } from './loop-fixtures.js';

const { start, cleanup } = perTest();

async function setup() {
  const engine = new ScriptedEngine();
  const s = await start({ engine });
  const peer = () => Peer.open(s.url).then((p) => { cleanup(() => p.close()); return p; });
  return { engine, s, peer };
}

describe('the loop and the engine', () => {
  it('subscribes the engine with a channel\'s first local subscriber and unsubscribes it after the last one leaves', async () => {
    const { engine, peer } = await setup();
    const [a, b, c] = await Promise.all([peer(), peer(), peer()]);
    await a.subscribe('room');
    await b.subscribe('room');
    await c.subscribe('other');
    expect(engine.subscribed).toEqual(['room', 'other']);
    a.send({ type: 'unsubscribe', channel: 'room', id: 'u1' });
    await a.next((m) => m.type === 'unsubscribed' && m.id === 'u1');
    await b.sync();
    expect(engine.unsubscribed).toEqual([]);
    b.close();
    await vi.waitFor(() => expect(engine.unsubscribed).toEqual(['room']));
    c.send({ type: 'unsubscribe', channel: 'other' });
    await vi.waitFor(() => expect(engine.unsubscribed).toEqual(['room', 'other']));
  });

  it('sends no subscribe answer to a connection that left the channel while its position was being read', async () => {
    const { engine, peer } = await setup();
    const a = await peer();
    engine.holdHistory = true;
    a.send({ type: 'subscribe', channel: 'room', id: 's1' });
    await vi.waitFor(() => expect(engine.waiting).toBe(1));
    a.send({ type: 'unsubscribe', channel: 'room', id: 'u1' });
    await a.next((m) => m.type === 'unsubscribed' && m.id === 'u1');
    engine.release();
    engine.holdHistory = false;
    const b = await peer();
    await b.subscribe('room');
    engine.publish('room', 'after', '1', keep);
    await b.next((m) => m.type === 'after');
    await a.sync();
    expect(a.messages).toEqual([]);
  });

  it('answers a subscribe made again while the first one\'s read was pending with its own id, and the first one not at all', async () => {
    const { engine, peer } = await setup();
    const a = await peer();
    engine.holdHistory = true;
    a.send({ type: 'subscribe', channel: 'room', id: 's1' });
    await vi.waitFor(() => expect(engine.waiting).toBe(1));
    a.send({ type: 'unsubscribe', channel: 'room', id: 'u1' });
    a.send({ type: 'subscribe', channel: 'room', id: 's2' });
    await vi.waitFor(() => expect(engine.waiting).toBe(2));
    engine.holdHistory = false;
    engine.release();
    expect(await a.next((m) => m.type === 'subscribed')).toMatchObject({ channel: 'room', id: 's2' });
    engine.publish('room', 'live', '1', keep);
    expect(await a.next((m) => m.type === 'live')).toMatchObject({ offset: 1 });
    await a.sync();
    expect(a.messages).toEqual([expect.objectContaining({ type: 'unsubscribed', id: 'u1' })]);
  });

  it('answers a subscribe whose position was read while publications were on their way with only those after it, once each', async () => {
    const { engine, peer } = await setup();
    const a = await peer();
    engine.publish('room', 'old', '0', keep);
    engine.holdHistory = true;
    a.send({ type: 'subscribe', channel: 'room', id: 's1' });
    await vi.waitFor(() => expect(engine.waiting).toBe(1));
    // Two publications, then the read (it sees offset 3), then one more: one turn takes all of them in.
    engine.publish('room', 'm', '1', keep);
    engine.publish('room', 'm', '2', keep);
    engine.release();
    engine.publish('room', 'm', '3', keep);
    const answer = await a.next((m) => m.type === 'subscribed');
    expect(answer).toMatchObject({ channel: 'room', offset: 3, id: 's1' });
    engine.publish('room', 'm', '4', keep);
    await a.next((m) => m.type === 'm' && m.offset === 5);
    await a.sync();
    expect(a.messages.map((m) => m.offset)).toEqual([4]);
  });

  it('tells every subscriber of a reset stream where it stands now, then delivers from there', async () => {
    const { engine, s, peer } = await setup();
    const [a, b] = await Promise.all([peer(), peer()]);
    await a.subscribe('room');
    await b.subscribe('room');
    const resets: unknown[] = [];
    s.hub.on('reset', (event) => resets.push(event));
    engine.publish('room', 'm', '1', keep);
    await a.next((m) => m.type === 'm');
    await b.next((m) => m.type === 'm');
    // The engine lost what it delivered: the stream continues from offset 5 of a new epoch.
    engine.handlers.reset('room', { offset: 5, epoch: 'new' });
    for (const peerOf of [a, b]) {
      expect(await peerOf.next((m) => m.type === 'reset')).toEqual({ type: 'reset', channel: 'room', offset: 5, epoch: 'new' });
    }
    expect(resets).toEqual([{ channel: 'room', offset: 5, epoch: 'new' }]);
    // Deliveries at or below the reset position are not sent again; those after it are.
    engine.handlers.deliver({ channel: 'room', offset: 5, epoch: 'new', type: 'm', data: '"five"' });
    engine.handlers.deliver({ channel: 'room', offset: 6, epoch: 'new', type: 'm', data: '"six"' });
    expect(await a.next((m) => m.type === 'm')).toMatchObject({ offset: 6, data: 'six' });
    await a.sync();
    expect(a.messages).toEqual([]);
  });

  it('sends no reset to a connection whose subscribe is still waiting for the stream: its answer comes from the new one', async () => {
    const { engine, peer } = await setup();
    const [a, b] = await Promise.all([peer(), peer()]);
    await a.subscribe('room');
    engine.holdHistory = true;
    b.send({ type: 'subscribe', channel: 'room', id: 's1' });
    await vi.waitFor(() => expect(engine.waiting).toBe(1));
    engine.handlers.reset('room', { offset: 0, epoch: 'x' });
    await a.next((m) => m.type === 'reset');
    engine.release();
    expect(await b.next((m) => m.type === 'subscribed')).toMatchObject({ channel: 'room', id: 's1' });
    await b.sync();
    expect(b.messages).toEqual([]);
  });
});
