import type { IncomingMessage } from 'node:http';
import { EventSource } from 'eventsource';
import { effectScope } from '@vue/runtime-core';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient, LiveError, type LiveClientOptions } from '../../client/index.js';
import { useLiveUpdate } from '../../client/vue.js';
import type { HubOptions } from '../../pkg/index.js';
import { Peer, perTest, sentinel, serverSessions, sleep } from '../helpers.js';

const { cleanup, start } = perTest();

/**
 * A hub serving SSE at /events and WebSocket at /ws on one server. `blockStreams` answers every
 * new stream with 503 (the network path to the hub is down for SSE), counted in `state.refused`;
 * the companion POSTs still pass.
 */
async function sseHub(options: HubOptions = {}) {
  const state = { blockStreams: false, refused: 0 };
  const { hub, port, url } = await start({ logger: false, canPublish: () => true, eventSourceRetry: 20, ...options }, {
    handler: (hub) => (request, response) => {
      if (request.url?.startsWith('/events')) {
        if (state.blockStreams && request.method === 'GET') {
          state.refused++;
          response.writeHead(503, { 'Retry-After': '1' });
          response.end();
          return;
        }
        return hub.handleEventSource(request, response);
      }
      response.writeHead(404);
      response.end();
    },
  });
  const sessions = () => serverSessions(hub);
  return {
    hub, state, port, url,
    /** Kills every SSE stream from the server side (no close event: as a dropped connection). */
    killStreams: () => { for (const session of sessions()) if (session.transport.name === 'sse') session.terminate(); },
    sessions,
  };
}

function sseClient(url: string, options: LiveClientOptions = {}) {
  const client = new LiveClient(url, { transport: 'sse', EventSource, reconnect: { delay: 20, maxDelay: 200 }, ...options });
  cleanup(() => client.dispose());
  return client;
}

async function peer(url: string) {
  const p = await Peer.open(url);
  cleanup(() => p.close());
  return p;
}

describe('LiveClient over Server-Sent Events', () => {
  it('opens an EventSource on /events next to /ws, subscribes and publishes, and chats both ways with a WebSocket client', async () => {
    const s = await sseHub();
    const client = sseClient(s.url);
    const transports: string[] = [];
    client.events.on('transport', (name) => transports.push(name));
    const seen: unknown[] = [];
    client.on('room', (data) => seen.push(data));
    await expect.poll(() => client.status).toBe('open');
    expect(client.transport).toBe('sse');
    await expect.poll(() => s.hub.info().channels).toBe(1);
    const ws = await peer(s.url);
    await ws.subscribe('room');
    await client.publish('room', 'said', { text: 'from sse' });
    expect((await ws.next((m) => m.channel === 'room')).data).toEqual({ text: 'from sse' });
    ws.send({ type: 'publish', channel: 'room', event: 'said', data: { text: 'from ws' }, id: 'w1' });
    await expect.poll(() => seen).toEqual([{ text: 'from sse' }, { text: 'from ws' }]);
    expect(client.position('room')).toMatchObject({ offset: 2 });
  });

  it('keeps every message once and in order when the server kills its stream 20 times while messages flow', async () => {
    const s = await sseHub({ history: { size: 10_000, ttl: 60_000 } });
    const client = sseClient(s.url);
    const seen: number[] = [];
    let recovered = 0;
    client.events.on('recovered', () => recovered++);
    const errors: string[] = [];
    client.events.on('error', (error) => errors.push((error as LiveError).code));
    client.on('ticks', (n: number) => seen.push(n));
    await expect.poll(() => s.hub.info().channels).toBe(1);
    let sent = 0;
    const publisher = setInterval(() => { for (let i = 0; i < 5; i++) s.hub.publish('ticks', 'tick', sent++); }, 10);
    cleanup(() => clearInterval(publisher));
    for (let kill = 0; kill < 20; kill++) {
      // A kill once the stream has carried another 30 to 60 messages (60 to 120 ms at this rate).
      const from = seen.length;
      await expect.poll(() => seen.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(from + 30 + Math.floor(Math.random() * 30));
      s.killStreams();
    }
    clearInterval(publisher);
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(sent);
    // A sentinel on the channel: once it is in, anything published before it would be too.
    await s.hub.publish('ticks', 'done', -1);
    await expect.poll(() => seen.at(-1), { timeout: 10_000 }).toBe(-1);
    seen.pop();
    expect(seen).toEqual([...Array(sent).keys()]);
    // The EventSource's own reconnect resumed the channel: nothing subscribed twice, nothing refused.
    expect(recovered).toBeGreaterThan(0);
    expect(errors.filter((code) => code !== 'connect_failed')).toEqual([]);
    expect(client.status).toBe('open');
  }, 30_000);

  it('resumes from its own positions with a fresh EventSource when the EventSource gives up (streams refused for a while)', async () => {
    const s = await sseHub({ history: { size: 100, ttl: 60_000 } });
    const client = sseClient(s.url);
    const seen: number[] = [];
    client.on('feed', (n: number) => seen.push(n));
    await expect.poll(() => s.hub.info().channels).toBe(1);
    await s.hub.publish('feed', 'item', 1);
    await expect.poll(() => seen).toEqual([1]);
    s.state.blockStreams = true;
    s.killStreams();
    await expect.poll(() => client.status).toBe('reconnecting');
    await s.hub.publish('feed', 'item', 2);
    await s.hub.publish('feed', 'item', 3);
    await expect.poll(() => s.state.refused, { timeout: 5000 }).toBeGreaterThanOrEqual(2); // a fresh EventSource refused too
    s.state.blockStreams = false;
    await expect.poll(() => seen, { timeout: 10_000 }).toEqual([1, 2, 3]);
    expect(client.status).toBe('open');
  });

  it('resumes a channel from a position given with on(channel, handler, { since })', async () => {
    const s = await sseHub({ history: { size: 100, ttl: 60_000 } });
    const first = await s.hub.publish('news', 'item', 'a');
    await s.hub.publish('news', 'item', 'b');
    await s.hub.publish('news', 'item', 'c');
    const client = sseClient(s.url);
    const seen: unknown[] = [];
    client.on('news', (data) => seen.push(data), { since: { offset: first.offset, epoch: first.epoch } });
    await expect.poll(() => seen).toEqual(['b', 'c']);
  });

  it('sends publishes and queued requests made while the stream is down once it is back, each once', async () => {
    const s = await sseHub();
    s.hub.handle('echo', (message) => ({ echoed: message.data }));
    const client = sseClient(s.url);
    client.subscribe('room');
    await expect.poll(() => s.hub.info().channels).toBe(1);
    const ws = await peer(s.url);
    await ws.subscribe('room');
    s.state.blockStreams = true;
    s.killStreams();
    await expect.poll(() => client.status).toBe('reconnecting');
    const published = client.publish('room', 'said', 'made offline');
    const replied = client.request('echo', { n: 1 }, { queue: true });
    await expect(client.request('echo', { n: 2 })).rejects.toMatchObject({ code: 'not_connected' });
    const refused = s.state.refused;
    await expect.poll(() => s.state.refused, { timeout: 5000 }).toBeGreaterThan(refused); // still down after they were made
    s.state.blockStreams = false;
    await expect(published).resolves.toBeUndefined();
    await expect(replied).resolves.toEqual({ echoed: { n: 1 } });
    expect((await ws.next((m) => m.channel === 'room')).data).toBe('made offline');
    await sentinel(s.hub, 'room', [ws]);
    expect(ws.messages.filter((m) => m.channel === 'room')).toEqual([]);
  });

  it('stops for good when the server closes the stream with a terminal code (4503), without reconnecting', async () => {
    const s = await sseHub({ authenticate: (request: IncomingMessage) => ({ userId: new URL(request.url!, 'http://x').searchParams.get('user') ?? 'anon' }) });
    const client = sseClient(`${s.url}?user=ann`);
    await expect.poll(() => client.status).toBe('open');
    const closes: Array<{ code: number; reason: string }> = [];
    client.events.on('close', (event) => closes.push(event));
    await s.hub.disconnectUser('ann', 'banned');
    await expect.poll(() => client.status).toBe('closed');
    expect(closes).toEqual([{ code: 4503, reason: 'banned' }]);
    expect(client.lastError).toMatchObject({ code: 'closed' });
    await expect.poll(() => s.sessions()).toHaveLength(0);
    // Kept sleep: staying down is the behaviour; 200 ms is ten reconnect delays without a reconnect.
    await sleep(200);
    expect(s.sessions()).toHaveLength(0);
  });

  it('uses eventsUrl when given, and carries the WebSocket URL\'s query to the derived one', async () => {
    const s = await sseHub({ authenticate: (request: IncomingMessage) => ({ userId: new URL(request.url!, 'http://x').searchParams.get('user') ?? 'anon' }) });
    const derived = sseClient(`${s.url}?user=bob`);
    await expect.poll(() => derived.status).toBe('open');
    const given = sseClient('ws://127.0.0.1:1/nowhere', { eventsUrl: `http://127.0.0.1:${s.port}/events?user=cid` });
    await expect.poll(() => given.status).toBe('open');
    expect(s.sessions().map((session) => session.identity?.userId).sort()).toEqual(['bob', 'cid']);
  });

  it('reports no_eventsource and stops, without throwing, when Node has no EventSource and none is given', async () => {
    const client = new LiveClient('ws://127.0.0.1:1/ws', { transport: 'sse' });
    cleanup(() => client.dispose());
    expect(client.status).toBe('closed');
    expect(client.lastError).toBeInstanceOf(LiveError);
    expect(client.lastError).toMatchObject({ code: 'no_eventsource' });
    expect(client.lastError!.message).toContain('npm install eventsource');
  });

  it('gives the same presence and setStatus over SSE as over WebSocket', async () => {
    const s = await sseHub({ authenticate: (request: IncomingMessage) => ({ userId: new URL(request.url!, 'http://x').searchParams.get('user') ?? 'anon' }), authorize: () => true });
    const client = sseClient(`${s.url}?user=ann`);
    const lists: unknown[] = [];
    client.events.on('presence', (event) => lists.push(event));
    client.subscribe('presence-team');
    await expect.poll(() => lists.length).toBeGreaterThan(0);
    await client.setStatus('presence-team', 'away');
    await expect.poll(async () => (await client.presence('presence-team')).map((m) => [m.userId, m.status])).toEqual([['ann', 'away']]);
  });

  it('accepts the ws WebSocket class alongside for transport sse without using it', async () => {
    const s = await sseHub();
    const client = sseClient(s.url, { WebSocket });
    await expect.poll(() => client.status).toBe('open');
    expect(s.sessions().map((session) => session.transport.name)).toEqual(['sse']);
    expect(client.transport).toBe('sse');
  });

  it('reports a URL it cannot resolve (relative, in Node) as a failed attempt instead of throwing', async () => {
    const client = sseClient('/ws', { reconnect: { delay: 1000, maxDelay: 200 } });
    expect(client.status).toBe('reconnecting');
    expect(client.lastError).toBeInstanceOf(TypeError);
  });

  it('takes transport through useLiveUpdate(url, options) and delivers over SSE', async () => {
    const s = await sseHub();
    const scope = effectScope();
    cleanup(() => scope.stop());
    const live = scope.run(() => useLiveUpdate(s.url, { transport: 'sse', EventSource }))!;
    const seen: unknown[] = [];
    live.on('prices', (data) => seen.push(data));
    await expect.poll(() => live.connected.value).toBe(true);
    expect(live.getClient().transport).toBe('sse');
    await expect.poll(() => s.hub.info().channels).toBe(1);
    await s.hub.publish('prices', 'tick', 42);
    await expect.poll(() => seen).toEqual([42]);
  });
});
