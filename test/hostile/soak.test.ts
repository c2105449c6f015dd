import { describe, expect, it } from 'vitest';
import { Hub } from '../../pkg/index.js';
import { Peer } from '../helpers.js';
import { gc, hostileHub } from './fixture.js';
import { coreOf } from '../../pkg/hub.js';

const CYCLES = 10_000;
const LANES = 25;

/** The hub's own bookkeeping, read through its private fields: what must return to empty. */
function bookkeeping(hub: Hub) {
  const h = coreOf(hub) as unknown as {
    sessions: Set<unknown>; channels: Map<string, Set<unknown>>; users: Map<string, unknown>; subscribing: Map<string, unknown>;
    gate: { admission: { total: number; byIp: Map<string, number>; byUser: Map<string, number> } };
  };
  const { admission } = h.gate;
  return {
    sessions: h.sessions.size, channels: h.channels.size, users: h.users.size, subscribing: h.subscribing.size,
    admitted: admission.total, ips: admission.byIp.size, userSlots: admission.byUser.size,
  };
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('a soak of connect, subscribe, publish and disconnect', () => {
  it(`returns the hub's maps, timers and heap to their baseline after ${CYCLES} cycles, clean and abrupt`, async () => {
    const h = await hostileHub({
      canPublish: () => true, maxConnectionsPerIp: 10_000, rateLimit: 10_000, rateLimitBurst: 10_000, logger: false,
      authenticate: (request) => ({ userId: `user-${new URL(request.url ?? '/', 'http://x').searchParams.get('lane')}` }),
    }, { canaryQuery: 'lane=canary' });
    const before = bookkeeping(h.hub);
    const timersBefore = timers();
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let done = 0;
    await Promise.all([...Array(LANES).keys()].map(async (lane) => {
      for (let i = 0; i < CYCLES / LANES; i++) {
        const peer = await Peer.open(`${h.url}?lane=${lane}`);
        const channel = `soak-${lane}-${i % 7}`;
        await peer.subscribe(channel);
        peer.send({ type: 'publish', channel, event: 'm', data: i, id: `${lane}-${i}` });
        await peer.next((m) => m.type === 'ack');
        if (i % 2 === 0) {
          peer.ws.close(1000);
          await peer.whenClosed();
        } else peer.close(); // abrupt: the TCP connection is destroyed without a close frame
        done++;
      }
    }));
    expect(done).toBe(CYCLES);
    await expect.poll(() => bookkeeping(h.hub), { timeout: 10_000 }).toEqual(before);
    await expect.poll(() => timers()).toBeLessThanOrEqual(timersBefore);
    gc();
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(8 * 1024 * 1024);
    await h.finish();
  }, 240_000);
});
