import type { Duplex } from 'node:stream';
import { EventSource } from 'eventsource';
import { describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { eventsUrlFor, LiveClient, type LiveClientOptions, type TransportName } from '../../client/index.js';
import type { HubOptions } from '../../pkg/index.js';
import { Peer, perTest, serverSessions, sleep } from '../helpers.js';

const { cleanup, start } = perTest();

type Upgrades = 'refuse' | 'stall' | 'accept';

/**
 * A hub at /ws and /events behind a server that refuses WebSocket upgrades (403), or takes them and
 * never answers (`stall`), or passes them, as `state.upgrades` says; upgrades to `/ws?peer` always pass
 * (the test's own WebSocket clients). `state.streams: false` answers SSE streams with 503.
 */
async function gatedHub(options: HubOptions = {}) {
  const state: { upgrades: Upgrades; streams: boolean; refused: number } = { upgrades: 'refuse', streams: true, refused: 0 };
  const stalled: Duplex[] = [];
  const { hub, url } = await start({ logger: false, canPublish: () => true, eventSourceRetry: 20, history: { size: 10_000, ttl: 60_000 }, ...options }, {
    attach: false,
    handler: (hub) => (request, response) => {
      if (request.url?.startsWith('/events') && (state.streams || request.method !== 'GET')) return hub.handleEventSource(request, response);
      response.writeHead(request.url?.startsWith('/events') ? 503 : 404);
      response.end();
    },
    upgrade: (hub) => (request, socket, head) => {
      if (request.url?.includes('peer') || state.upgrades === 'accept') return hub.handleUpgrade(request, socket, head);
      state.refused++;
      if (state.upgrades === 'stall') return void stalled.push(socket);
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    },
  });
  cleanup(() => { for (const socket of stalled) socket.destroy(); });
  return { hub, state, url };
}

function autoClient(url: string, options: LiveClientOptions = {}) {
  const client = new LiveClient(url, { transport: 'auto', WebSocket, EventSource, reconnect: { delay: 20, maxDelay: 100 }, autoConnect: false, ...options });
  cleanup(() => client.dispose());
  const transports: TransportName[] = [];
  const errors: string[] = [];
  client.events.on('transport', (name) => transports.push(name));
  client.events.on('error', (error) => errors.push((error as { code?: string }).code ?? error.message));
  client.connect();
  return { client, transports, errors };
}

async function peer(url: string) {
  const p = await Peer.open(`${url}?peer`);
  cleanup(() => p.close());
  return p;
}

describe("transport: 'auto'", () => {
  it('falls back to SSE after two refused upgrades and chats both ways with a WebSocket client', async () => {
    const s = await gatedHub();
    const { client, transports, errors } = autoClient(s.url);
    const seen: unknown[] = [];
    client.on('room', (data) => seen.push(data));
    await expect.poll(() => client.status).toBe('open');
    expect(client.transport).toBe('sse');
    expect(transports).toEqual(['websocket', 'sse']);
    expect(errors).toEqual(['connect_failed', 'connect_failed']);
    expect(s.state.refused).toBe(2);
    await expect.poll(() => s.hub.info().channels).toBe(1);
    const ws = await peer(s.url);
    await ws.subscribe('room');
    await client.publish('room', 'said', 'from the fallback');
    expect((await ws.next((m) => m.channel === 'room')).data).toBe('from the fallback');
    ws.send({ type: 'publish', channel: 'room', event: 'said', data: 'from ws', id: 'w1' });
    await expect.poll(() => seen).toEqual(['from the fallback', 'from ws']);
  });

  it('falls back after two handshakes that never complete within connectTimeout', async () => {
    const s = await gatedHub();
    s.state.upgrades = 'stall';
    const { client, transports, errors } = autoClient(s.url, { connectTimeout: 200 });
    await expect.poll(() => client.status, { timeout: 5000 }).toBe('open');
    expect(transports).toEqual(['websocket', 'sse']);
    expect(errors).toEqual(['connect_timeout', 'connect_timeout']);
  });

  it('moves back to WebSocket once an upgrade passes, with no message lost or doubled across the move', async () => {
    const s = await gatedHub();
    const { client, transports } = autoClient(s.url, { websocketRetryInterval: 200 });
    const seen: number[] = [];
    client.on('ticks', (n: number) => seen.push(n));
    await expect.poll(() => client.transport).toBe('sse');
    await expect.poll(() => s.hub.info().channels).toBe(1);
    let sent = 0;
    const publisher = setInterval(() => { for (let i = 0; i < 5; i++) s.hub.publish('ticks', 'tick', sent++); }, 10);
    cleanup(() => clearInterval(publisher));
    await expect.poll(() => s.state.refused, { timeout: 5000 }).toBeGreaterThan(2);
    const refusedBefore = s.state.refused;
    expect(refusedBefore).toBeGreaterThan(2); // the background tries, refused while upgrades are
    expect(client.transport).toBe('sse');
    s.state.upgrades = 'accept';
    await expect.poll(() => client.transport, { timeout: 5000 }).toBe('websocket');
    const moved = seen.length;
    await expect.poll(() => seen.length, { timeout: 5000 }).toBeGreaterThanOrEqual(moved + 50); // messages flow on after the move
    clearInterval(publisher);
    await expect.poll(() => seen.length, { timeout: 5000 }).toBeGreaterThanOrEqual(sent);
    // A sentinel on the channel: once it is in, anything published before it would be too.
    await s.hub.publish('ticks', 'done', -1);
    await expect.poll(() => seen.at(-1)).toBe(-1);
    seen.pop();
    expect(seen).toEqual([...Array(sent).keys()]);
    expect(transports).toEqual(['websocket', 'sse', 'websocket']);
    expect(client.status).toBe('open');
    // The stream is gone: one session is left, the WebSocket.
    const sessionTransports = () => serverSessions(s.hub).map((x) => x.transport.name);
    await expect.poll(sessionTransports).toEqual(['websocket']);
  });

  it('goes back to WebSocket when SSE fails as often (the server was down, not the upgrades blocked)', async () => {
    const s = await gatedHub();
    s.state.streams = false;
    const { client, transports } = autoClient(s.url);
    await expect.poll(() => transports.slice(0, 3), { timeout: 5000 }).toEqual(['websocket', 'sse', 'websocket']);
    s.state.upgrades = 'accept';
    await expect.poll(() => client.status, { timeout: 5000 }).toBe('open');
    expect(client.transport).toBe('websocket');
  });

  it('stays on WebSocket and says no_eventsource once when there is no EventSource to fall back to', async () => {
    const s = await gatedHub();
    const { client, transports, errors } = autoClient(s.url, { EventSource: undefined });
    await expect.poll(() => errors.filter((code) => code === 'no_eventsource').length, { timeout: 5000 }).toBe(1);
    const refused = s.state.refused;
    await expect.poll(() => s.state.refused, { timeout: 5000 }).toBeGreaterThanOrEqual(refused + 2); // it goes on trying WebSocket
    expect(client.status).toBe('reconnecting');
    s.state.upgrades = 'accept';
    await expect.poll(() => client.status, { timeout: 5000 }).toBe('open');
    expect(client.transport).toBe('websocket');
    expect(transports).toEqual(['websocket']);
    expect(errors.filter((code) => code === 'no_eventsource')).toHaveLength(1);
  });

  it('tries WebSocket at once when the browser comes back online while on SSE, and moves to it', async () => {
    const listeners = new Map<string, () => void>();
    vi.stubGlobal('addEventListener', (name: string, listener: () => void) => listeners.set(name, listener));
    vi.stubGlobal('removeEventListener', (name: string) => listeners.delete(name));
    cleanup(() => vi.unstubAllGlobals());
    const s = await gatedHub();
    const { client, transports } = autoClient(s.url); // websocketRetryInterval: 5 minutes
    await expect.poll(() => client.transport).toBe('sse');
    await expect.poll(() => client.status).toBe('open');
    s.state.upgrades = 'accept';
    // Kept sleep: no early try is the behaviour (the retry timer is 5 minutes); no event marks its absence.
    await sleep(100);
    expect(client.transport).toBe('sse');
    listeners.get('online')!();
    await expect.poll(() => client.transport, { timeout: 3000 }).toBe('websocket');
    expect(transports).toEqual(['websocket', 'sse', 'websocket']);
    expect(client.status).toBe('open');
  });

  it('coming back online while the stream is down, reopens it and then tries WebSocket at once', async () => {
    const listeners = new Map<string, () => void>();
    vi.stubGlobal('addEventListener', (name: string, listener: () => void) => listeners.set(name, listener));
    vi.stubGlobal('removeEventListener', (name: string) => listeners.delete(name));
    cleanup(() => vi.unstubAllGlobals());
    const s = await gatedHub();
    const { client, transports } = autoClient(s.url, { reconnect: { delay: 2000, maxDelay: 2000 }, random: () => 0.25 });
    await expect.poll(() => client.transport, { timeout: 5000 }).toBe('sse');
    await expect.poll(() => client.status).toBe('open');
    s.state.streams = false;
    for (const session of serverSessions(s.hub)) session.terminate();
    await expect.poll(() => client.status).toBe('reconnecting');
    s.state.streams = true;
    s.state.upgrades = 'accept';
    listeners.get('online')!();
    await expect.poll(() => client.transport, { timeout: 1500 }).toBe('websocket');
    expect(transports).toEqual(['websocket', 'sse', 'websocket']);
    await expect.poll(() => client.status).toBe('open');
  });

  it('uses WebSocket and never SSE while upgrades pass', async () => {
    const s = await gatedHub();
    s.state.upgrades = 'accept';
    const { client, transports } = autoClient(s.url, { websocketRetryInterval: 50 });
    await expect.poll(() => client.status).toBe('open');
    // Kept sleep: never falling back is the behaviour; 200 ms is four websocketRetryIntervals.
    await sleep(200);
    expect(transports).toEqual(['websocket']);
  });
});

describe('transport options', () => {
  it('derives the SSE URL from the WebSocket URL: same host, http(s), path /events, query kept', () => {
    expect(eventsUrlFor('ws://h:8080/ws')).toBe('http://h:8080/events');
    expect(eventsUrlFor('wss://example.com/app/ws?room=1')).toBe('https://example.com/events?room=1');
  });

  it('throws a TypeError for a bad transport, fallbackAfter, eventsUrl or EventSource', () => {
    const make = (options: LiveClientOptions) => () => new LiveClient('ws://h/ws', { autoConnect: false, ...options });
    expect(make({ transport: 'ws' as never })).toThrow(/transport must be 'websocket', 'sse' or 'auto'/);
    expect(make({ fallbackAfter: 0 })).toThrow(/fallbackAfter must be a positive integer/);
    expect(make({ websocketRetryInterval: -1 })).toThrow(/websocketRetryInterval must be a positive number/);
    expect(make({ requestTimeout: 0 })).toThrow(/requestTimeout must be a positive number/);
    expect(make({ eventsUrl: '' })).toThrow(/eventsUrl must be a non-empty string/);
    expect(make({ EventSource: 'EventSource' as never })).toThrow(/EventSource must be an EventSource class/);
    expect(make({ transprt: 'sse' } as never)).toThrow(/unknown option 'transprt'.*'transport'/);
  });
});
