import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CloseCode, type Hub, type StreamPosition } from '../../pkg/index.js';
import { Peer, perTest, turn } from '../helpers.js';

const { start, cleanup } = perTest();

/**
 * Publishes `n` messages of about `size` bytes to `channel`; resolves with the position before them.
 * 4,500 of 2 KB are 9 MB: more than a socket on the loopback takes while its reader does not read,
 * so most of such a replay waits in the socket's own buffer.
 */
async function fill(hub: Hub, channel: string, n: number, size: number): Promise<StreamPosition> {
  const pad = 'x'.repeat(size - 40);
  const first = await hub.publish(channel, 'm', { i: 0, pad });
  for (let i = 1; i < n - 1; i++) hub.publish(channel, 'm', { i, pad });
  await hub.publish(channel, 'm', { i: n - 1, pad });
  return { offset: first.offset - 1, epoch: first.epoch };
}

/** A peer whose socket reads nothing until `read()`: a reader on a slow link, or one that stopped. */
async function stalledPeer(url: string) {
  const peer = await Peer.open(url);
  cleanup(() => peer.close());
  const socket = (peer.ws as unknown as { _socket: Socket })._socket;
  socket.pause();
  return { peer, read: () => socket.resume() };
}

/** Counts the hub's answered subscribes and its evictions (with their reasons). */
function watch(hub: Hub) {
  const seen = { subscribed: 0, evicted: [] as string[] };
  cleanup(hub.on('subscribed', () => { seen.subscribed++; }));
  cleanup(hub.on('evicted', (e) => { seen.evicted.push(e.reason); }));
  return seen;
}

describe('replays and the slow-consumer limits', () => {
  it('keeps a fresh client that resumes 9,000 messages while live ones keep coming, and gives it every message, time after time', async () => {
    const { hub, url } = await start({ logger: false, history: { size: 10_000, ttl: 120_000 } });
    const since = await fill(hub, 'a', 9_000, 150);
    const seen = watch(hub);
    for (let round = 1; round <= 3; round++) {
      const peer = await Peer.open(url);
      cleanup(() => peer.close());
      peer.send({ type: 'subscribe', channel: 'a', since, id: round });
      // Live messages, one a turn, while the replay is read and written: some share its turn.
      const live = `live-${round}`; // earlier rounds' live messages are in this round's replay
      for (let i = 0; i < 400; i++) {
        hub.publish('a', live, i);
        await turn();
      }
      await expect.poll(() => peer.closed ?? peer.messages.filter((m) => m.type === live).length, { timeout: 10_000 }).toBe(400);
      expect(seen.evicted).toEqual([]);
      expect(peer.messages.filter((m) => m.type === 'm').map((m) => m.data.i)).toEqual([...Array(9_000).keys()]);
      expect(peer.messages.filter((m) => m.type === live).map((m) => m.data)).toEqual([...Array(400).keys()]);
      peer.close();
    }
  }, 60_000);

  it('keeps a fresh client on a slow link that resumes 9,000 large messages on two channels at once, and gives it every message', async () => {
    const { hub, url } = await start({ logger: false, history: { size: 10_000, ttl: 120_000 } });
    const since = { a: await fill(hub, 'a', 4_500, 2_000), b: await fill(hub, 'b', 4_500, 2_000) };
    const seen = watch(hub);
    for (let round = 1; round <= 2; round++) {
      const { peer, read } = await stalledPeer(url);
      for (const channel of ['a', 'b'] as const) peer.send({ type: 'subscribe', channel, since: since[channel], id: channel });
      // Both answers are out (replays and all) before the reader takes a byte.
      await expect.poll(() => seen.subscribed).toBe(2 * round);
      read();
      await expect.poll(() => peer.closed ?? peer.messages.length, { timeout: 15_000 }).toBe(9_002);
      expect(seen.evicted).toEqual([]);
      for (const channel of ['a', 'b'] as const) {
        expect(peer.messages.find((m) => m.type === 'subscribed' && m.channel === channel)).toMatchObject({ recovered: true, offset: since[channel].offset + 4_500 });
        expect(peer.messages.filter((m) => m.channel === channel && m.type === 'm').map((m) => m.data.i)).toEqual([...Array(4_500).keys()]);
      }
      peer.close();
    }
  }, 60_000);

  it('still closes with 4001 a client that stops reading after its replay once live messages pass sendBuffer', async () => {
    const { hub, url } = await start({ logger: false, history: { size: 10_000, ttl: 120_000 } });
    const since = await fill(hub, 'a', 4_500, 2_000);
    const seen = watch(hub);
    const { peer, read } = await stalledPeer(url);
    peer.send({ type: 'subscribe', channel: 'a', since, id: 1 });
    await expect.poll(() => seen.subscribed).toBe(1);
    for (let i = 0; i < 300; i++) await hub.publish('a', 'live', i);
    await expect.poll(() => seen.evicted).toEqual([expect.stringMatching(/^(25[7-9]|2[6-9]\d|300) messages and \d+ bytes were waiting \(sendBuffer 256, maxBufferedBytes \d+\), besides replays/)]);
    read();
    expect((await peer.whenClosed(10_000)).code).toBe(CloseCode.SlowConsumer);
  }, 30_000);

  it('still closes with 4001 a client that reads nothing of its replay for writeWait', async () => {
    const { hub, url } = await start({ logger: false, writeWait: 300, history: { size: 10_000, ttl: 120_000 } });
    const since = await fill(hub, 'a', 4_500, 2_000);
    const seen = watch(hub);
    const { peer, read } = await stalledPeer(url);
    peer.send({ type: 'subscribe', channel: 'a', since, id: 1 });
    await expect.poll(() => seen.evicted, { timeout: 5_000 }).toEqual([expect.stringMatching(/did not drain for writeWait \(300 ms\)/)]);
    read();
    expect((await peer.whenClosed(10_000)).code).toBe(CloseCode.SlowConsumer);
  }, 30_000);

  it('counts a channel\'s earlier replays as live: a client that resubscribes again and again without reading is closed with 4001', async () => {
    const { hub, url } = await start({ logger: false, history: { size: 10_000, ttl: 120_000 } });
    const since = await fill(hub, 'a', 4_500, 2_000);
    const seen = watch(hub);
    const { peer, read } = await stalledPeer(url);
    for (let round = 1; round <= 10 && seen.evicted.length === 0; round++) {
      peer.send({ type: 'unsubscribe', channel: 'a' });
      peer.send({ type: 'subscribe', channel: 'a', since, id: round });
      await expect.poll(() => seen.subscribed + seen.evicted.length).toBeGreaterThanOrEqual(round);
    }
    // The earlier replay's bytes, still unsent, count as live ones: over maxBufferedBytes.
    expect(seen.evicted).toEqual([expect.stringMatching(/^\d+ messages and \d{7,} bytes were waiting \(sendBuffer 256, maxBufferedBytes 4194304\)/)]);
    read();
    expect((await peer.whenClosed(10_000)).code).toBe(CloseCode.SlowConsumer);
  }, 30_000);
});
