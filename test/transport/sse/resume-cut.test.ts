import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import type { StreamPosition } from '../../../pkg/index.js';
import { perTest } from '../../helpers.js';
import { cuttingProxy } from './cut-proxy.js';

const { cleanup, start } = perTest();

/** What one `eventsource` client saw: its failures (each one a reconnect), and each reply with the failures before it. */
interface Seen {
  source: EventSource;
  errors: number;
  replies: Array<{ after: number; reply: any }>;
  messages: any[];
}

/** A stream through `eventsource` (the third-party client: its own reconnect, its own Last-Event-ID). */
function stream(url: string): Seen {
  const source = new EventSource(url);
  const seen: Seen = { source, errors: 0, replies: [], messages: [] };
  source.addEventListener('error', () => { seen.errors++; });
  source.addEventListener('message', (event) => {
    let data: any;
    try {
      data = JSON.parse(event.data);
    } catch {
      data = { type: 'unparsable', text: event.data }; // two events' data run together, say
    }
    if (data.type === 'm' || data.type === 'done') seen.messages.push(data);
    else seen.replies.push({ after: seen.errors, reply: data });
  });
  cleanup(() => source.close());
  return seen;
}

/** Whether the stream's reconnect has answered the resume of every channel. */
function reanswered(seen: Seen, channels: string[]): boolean {
  return seen.errors >= 1 && channels.every((channel) => seen.replies.some(({ after, reply }) =>
    after === seen.errors && reply.channel === channel && (reply.type === 'subscribed' || reply.type === 'error')));
}

/**
 * A stream's fault, if it has one: a channel whose messages after the resume point came with a hole
 * or twice, though no answer on that channel reported a gap (`recovered: false`, a reset).
 */
function fault(seen: Seen, channel: string, expected: number[]): string | null {
  const answers = seen.replies.map((r) => r.reply).filter((reply) => reply.channel === channel);
  if (answers.some((reply) => reply.recovered === false || reply.type === 'reset')) return null;
  const got = seen.messages.filter((m) => m.channel === channel && m.type === 'm').map((m) => m.offset as number);
  if (JSON.stringify(got) === JSON.stringify(expected)) return null;
  return `${channel}: got offsets [${got}] of [${expected}], answers ${JSON.stringify(answers)}`;
}

describe('SSE resume through a cut connection', () => {
  it('recovers every message or reports a gap, wherever the connection is cut in the answer to a resume', async () => {
    const { hub, port } = await start({ logger: false, eventSourceRetry: 5, history: { size: 100, ttl: 60_000 } },
      { attach: { path: '/ws', eventsPath: '/events' } });
    const proxy = await cuttingProxy(port);
    cleanup(proxy.close);

    /** Two channels with two messages each; the resume id names both, before their messages. */
    const channelsOf = async (name: string) => {
      const channels = [`a-${name}`, `b-${name}`];
      const since = new Map<string, StreamPosition>();
      const offsets = new Map<string, number[]>();
      for (const channel of channels) {
        const first = await hub.publish(channel, 'm', 1);
        since.set(channel, { offset: first.offset - 1, epoch: first.epoch });
        offsets.set(channel, [first.offset, (await hub.publish(channel, 'm', 2)).offset]);
      }
      const id = [...since].map(([channel, { offset, epoch }]) => `${channel} ${offset} ${epoch}`).join(' ');
      // The URL names the channels too, as a third-party page's would: one the id does not name is subscribed afresh.
      const url = `${proxy.base}/events?events=unnamed&${channels.map((c) => `channel=${c}`).join('&')}&lastEventId=${encodeURIComponent(id)}`;
      return { channels, offsets, url: (query: string) => `${url}&${query}` };
    };

    // The whole answer to a resume, uncut: its length bounds where a cut can fall (the answer of each
    // stream differs by a few bytes: its token and session id).
    const reference = await channelsOf('reference');
    const whole = stream(reference.url('record=reference'));
    await expect.poll(() => whole.messages.length).toBe(4);
    const text = proxy.recorded('reference').toString('latin1');
    const lastId = `id: ${reference.channels.map((c) => `${c} ${reference.offsets.get(c)![1]}`).join(' ')}`;
    // With the fault, the last message's id is not the stream's full id; the end of the last message is.
    const end = text.lastIndexOf('"data":2') >= 0 ? text.indexOf('\n\n', text.lastIndexOf('"data":2')) + 2 : -1;
    expect(end, `the answer ends with the last replayed message (${lastId}…)`).toBeGreaterThan(0);
    const length = end;

    // Every cut, from nothing at all to the whole answer: many short streams at once.
    const faults: string[] = [];
    const BATCH = 150;
    for (let from = 0; from <= length; from += BATCH) {
      const batch = await channelsOf(String(from).padStart('reference'.length, '0')); // answers as long as the reference
      const cuts = [...Array(Math.min(BATCH, length + 1 - from)).keys()].map((i) => from + i);
      const streams = cuts.map((cut) => ({ cut, seen: stream(batch.url(`cut=${cut}`)) }));
      await expect.poll(() => streams.filter((s) => !reanswered(s.seen, batch.channels)).map((s) => s.cut), { timeout: 15_000 }).toEqual([]);
      // A message after the replays on each channel: once it is in, anything before it would be too.
      for (const channel of batch.channels) await hub.publish(channel, 'done', null);
      await expect.poll(() => streams.filter((s) => s.seen.messages.filter((m) => m.type === 'done').length < 2).map((s) => s.cut), { timeout: 15_000 }).toEqual([]);
      for (const { cut, seen } of streams) {
        for (const channel of batch.channels) {
          const found = fault(seen, channel, batch.offsets.get(channel)!);
          if (found) faults.push(`cut after ${cut} bytes: ${found}`);
        }
        seen.source.close();
      }
    }
    expect(faults.slice(0, 5), `${faults.length} cuts lost messages with no gap reported`).toEqual([]);
  }, 90_000);

  it('forges no event from a lastEventId whose epoch holds a line break: that channel is answered recovered:false', async () => {
    const { hub, base } = await start({ logger: false, history: { size: 100, ttl: 60_000 } }, { attach: { path: '/ws', eventsPath: '/events' } });
    await hub.publish('room', 'm', 1);
    // Lobby is answered first: its id names room too, as the id gave it.
    const forged = `lobby 0 x room 0 x\ndata:{"channel":"room","type":"m","data":"forged","offset":9}\n`;
    const seen = stream(`${base}/events?events=unnamed&lastEventId=${encodeURIComponent(forged)}`);
    await expect.poll(() => seen.replies.find((r) => r.reply.channel === 'room')?.reply).toMatchObject({ type: 'subscribed', recovered: false, offset: 1 });
    await hub.publish('room', 'done', null);
    await expect.poll(() => seen.messages.map((m) => m.data)).toEqual([null]);
    expect(seen.replies.map((r) => r.reply.type).filter((type) => type !== 'connected' && type !== 'heartbeat')).toEqual(['stream', 'subscribed', 'subscribed']);
  });
});
