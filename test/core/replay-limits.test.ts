import { describe, expect, it } from 'vitest';
import { type Hub, type StreamPosition } from '../../pkg/index.js';
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
});
