import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Peer, perTest, turn } from '../helpers.js';
import { coreOf } from '../../pkg/hub.js';

const { start, cleanup, hub: newHub } = perTest();

describe('hub events', () => {
  it('gives onEvent every event with its name, in order: node.started, connection.opened, message.received, subscribed, published, delivered, closed', async () => {
    const hub = newHub({ logger: false, canPublish: () => true });
    const seen: string[] = [];
    const stop = hub.onEvent((name) => { seen.push(name); });
    await expect.poll(() => seen).toContain('node.started');
    stop();
    const { hub: served, url } = await start({ logger: false, canPublish: () => true });
    const names: string[] = [];
    served.onEvent((name, event) => { names.push(name); expect(event).toBeTypeOf('object'); });
    const peer = await Peer.open(url);
    await peer.subscribe('room');
    peer.send({ type: 'publish', channel: 'room', event: 'said', data: 1, id: 'p' });
    await peer.next((m) => m.channel === 'room' && m.type === 'said');
    peer.ws.close(1000);
    await expect.poll(() => names.includes('connection.closed')).toBe(true);
    const order = ['connection.opened', 'message.received', 'subscribed', 'message.published', 'message.delivered', 'connection.closed'];
    expect(order.map((n) => names.indexOf(n))).toEqual([...order.map((n) => names.indexOf(n))].sort((a, b) => a - b));
    expect(order.every((n) => names.includes(n))).toBe(true);
  });

  it('reports backpressure when a connection stops draining, and nothing once unsubscribed', async () => {
    const { hub, url } = await start({ logger: false, maxBufferedBytes: 64 * 1024 * 1024, sendBuffer: 100_000, writeWait: 5000 });
    const pressed: number[] = [];
    const off = hub.on('backpressure', (e) => pressed.push(e.bufferedBytes));
    const slow = await Peer.open(url);
    cleanup(() => slow.close());
    await slow.subscribe('firehose');
    (slow.ws as unknown as { _socket: Socket })._socket.pause();
    const payload = 'x'.repeat(8 * 1024);
    for (let i = 0; i < 3000 && pressed.length === 0; i++) {
      hub.publish('firehose', 'blob', payload);
      if (i % 20 === 0) await turn();
    }
    await expect.poll(() => pressed.length, { timeout: 5000 }).toBeGreaterThan(0);
    expect(pressed[0]).toBeGreaterThan(0);
    off();
    expect(coreOf(hub).events.listening.backpressure).toBe(false);
  });

  it('refuses unknown event names and listeners that are not functions', () => {
    const hub = newHub({ logger: false });
    expect(() => hub.on('conection.opened' as never, () => {})).toThrow(/unknown hub event/);
    expect(() => hub.onEvent(null as never)).toThrow(TypeError);
  });
});
