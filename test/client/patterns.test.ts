import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient, type LiveClientOptions } from '../../client/index.js';
import type { HubOptions } from '../../pkg/index.js';
import { perTest, serverSessions } from '../helpers.js';

const { cleanup, start } = perTest();

async function hub(options: HubOptions = {}) {
  return start({ logger: false, canPublish: () => true, ...options }, {
    handler: (hub) => (request, response) => {
      if (request.url?.startsWith('/events')) return hub.handleEventSource(request, response);
      response.writeHead(404);
      response.end();
    },
  });
}

function client(url: string, options: LiveClientOptions = {}) {
  const c = new LiveClient(url, { WebSocket, EventSource, reconnect: { delay: 20, maxDelay: 200 }, ...options });
  cleanup(() => c.dispose());
  return c;
}

/** Resolves once the server answered a subscribe to `pattern` (as many times as `count`). */
function subscribed(c: LiveClient, pattern: string) {
  let count = 0;
  c.addEventListener('reply', (reply) => { if (reply.type === 'subscribed' && (reply as { pattern?: string }).pattern === pattern) count++; });
  return () => count;
}

describe.each(['websocket', 'sse'] as const)('LiveClient.onPattern over %s', (transport) => {
  it('delivers messages of every matching channel with their channel, and subscribes again after a reconnect', async () => {
    const { hub: server, url } = await hub();
    const c = client(url, { transport });
    const answered = subscribed(c, 'sensors/+/temp');
    const seen: Array<[string, unknown]> = [];
    c.onPattern('sensors/+/temp', (data, message) => seen.push([message.channel, data]));
    await expect.poll(answered).toBe(1);
    await server.publish('sensors/hall/temp', 'reading', 19);
    await server.publish('sensors/hall/light', 'reading', 1);
    await server.publish('sensors/attic/temp', 'reading', 30);
    await expect.poll(() => seen).toEqual([['sensors/hall/temp', 19], ['sensors/attic/temp', 30]]);
    for (const session of serverSessions(server)) session.terminate();
    await expect.poll(answered, { timeout: 10_000 }).toBe(2);
    await server.publish('sensors/cellar/temp', 'reading', 12);
    await expect.poll(() => seen.at(-1)).toEqual(['sensors/cellar/temp', 12]);
  });
});

describe('LiveClient.onPattern', () => {
  it('throws a TypeError at once for a malformed pattern', () => {
    const c = client('ws://127.0.0.1:9/ws', { autoConnect: false });
    expect(() => c.onPattern('a/#/b', () => {})).toThrow(new TypeError('livehub: "a/#/b" is not a pattern: "#" must be the last level of a pattern'));
    expect(() => c.onPattern('a/b+', () => {})).toThrow(TypeError);
  });

  it('reports a pattern the server refuses as an error with its code, and stops listening; the other pattern stays', async () => {
    const { hub: server, url } = await hub({ authorize: ({ channel }) => channel.startsWith('open/') });
    const c = client(url);
    const errors: string[] = [];
    c.addEventListener('error', (error) => errors.push((error as { code?: string }).code ?? ''));
    const answered = subscribed(c, 'open/+');
    const seen: string[] = [];
    c.onPattern('secret/+', (_data, message) => seen.push(message.channel));
    c.onPattern('open/+', (_data, message) => seen.push(message.channel));
    await expect.poll(() => errors).toEqual(['forbidden']);
    await expect.poll(answered).toBe(1);
    await server.publish('secret/a', 'x', 1);
    await server.publish('open/a', 'x', 1);
    await expect.poll(() => seen).toEqual(['open/a']);
  });

  it('calls a handler on a channel and on a matching pattern each once per message', async () => {
    const { hub: server, url } = await hub();
    const c = client(url);
    const answered = subscribed(c, 'rooms/#');
    const byChannel: number[] = [];
    const byPattern: number[] = [];
    c.on('rooms/1', (data) => byChannel.push(data as number));
    c.onPattern('rooms/#', (data) => byPattern.push(data as number));
    await expect.poll(answered).toBe(1);
    await expect.poll(() => server.info().channels).toBeGreaterThan(0);
    await server.publish('rooms/1', 'x', 1);
    await server.publish('rooms/2', 'x', 2);
    await expect.poll(() => byPattern).toEqual([1, 2]);
    expect(byChannel).toEqual([1]);
  });
});
