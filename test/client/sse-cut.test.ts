import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { LiveClient } from '../../client/index.js';
import type { StreamPosition } from '../../pkg/index.js';
import { perTest, serverSessions } from '../helpers.js';
import { cuttingProxy } from '../transport/sse/cut-proxy.js';

const { cleanup, start } = perTest();

/** A LiveClient over SSE (the `eventsource` package) on `eventsUrl`, with what it reports. */
function sseClient(wsUrl: string, eventsUrl: string, channel: string, since: StreamPosition) {
  const client = new LiveClient(wsUrl, { transport: 'sse', EventSource, eventsUrl, reconnect: { delay: 20, maxDelay: 200 } });
  const seen = { data: [] as unknown[], recovered: 0, gaps: 0 };
  client.events.on('recovered', () => { seen.recovered++; });
  client.events.on('gap', () => { seen.gaps++; });
  client.on(channel, (data) => seen.data.push(data), { since });
  cleanup(() => client.dispose());
  return { client, seen };
}

describe('LiveClient over SSE through a cut connection', () => {
  it('gets every message once or reports a gap, wherever the stream is cut in the answer to its resume', async () => {
    const { hub, port, url } = await start({ logger: false, eventSourceRetry: 5, history: { size: 100, ttl: 60_000 } },
      { attach: { path: '/ws', eventsPath: '/events' } });
    const proxy = await cuttingProxy(port);
    cleanup(proxy.close);
    const channelOf = async (name: string) => {
      const channel = `room-${name}`;
      const first = await hub.publish(channel, 'm', 1);
      await hub.publish(channel, 'm', 2);
      await hub.publish(channel, 'm', 3);
      return { channel, since: { offset: first.offset - 1, epoch: first.epoch } };
    };

    // The stream's answer uncut, up to the resume's last message: where a cut can fall.
    const reference = await channelOf('reference');
    const whole = sseClient(url, `${proxy.base}/events?record=reference`, reference.channel, reference.since);
    await expect.poll(() => whole.seen.data).toEqual([1, 2, 3]);
    const text = proxy.recorded('reference').toString('latin1');
    const length = text.indexOf('\n\n', text.lastIndexOf('"data":3')) + 2;
    expect(length).toBeGreaterThan(1);
    whole.client.dispose();
    await expect.poll(() => serverSessions(hub).length).toBe(0);

    const faults: string[] = [];
    const BATCH = 100;
    for (let from = 0; from <= length; from += BATCH) {
      const { channel, since } = await channelOf(String(from).padStart('reference'.length, '0'));
      const cuts = [...Array(Math.min(BATCH, length + 1 - from)).keys()].map((i) => from + i);
      const clients = cuts.map((cut) => ({ cut, ...sseClient(url, `${proxy.base}/events?cut=${cut}`, channel, since) }));
      // Every stream was cut, each client is back on one stream of its own and subscribed there.
      await expect.poll(() => cuts.filter((cut) => !proxy.over(cut)), { timeout: 15_000 }).toEqual([]);
      await expect.poll(() => clients.every((c) => c.client.status === 'open') && serverSessions(hub).length === clients.length
        && hub.info().subscriptions === clients.length, { timeout: 15_000 }).toBe(true);
      // A message after the resume: once a client has it, anything before it would be there too.
      await hub.publish(channel, 'm', 'done');
      await expect.poll(() => clients.filter((c) => c.seen.data.at(-1) !== 'done').map((c) => c.cut), { timeout: 15_000 }).toEqual([]);
      for (const { cut, seen, client } of clients) {
        if (seen.gaps === 0 && JSON.stringify(seen.data) !== JSON.stringify([1, 2, 3, 'done'])) {
          faults.push(`cut after ${cut} bytes: got ${JSON.stringify(seen.data)}, ${seen.recovered} recovered, no gap`);
        }
        client.dispose();
      }
      await expect.poll(() => serverSessions(hub).length).toBe(0);
    }
    expect(faults.slice(0, 5), `${faults.length} cuts lost messages with no gap reported`).toEqual([]);
  }, 90_000);
});
