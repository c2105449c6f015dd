import Echo from 'laravel-echo';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { WebSocketConstructor } from '../../client/index.js';
import { LivehubConnector } from '../../client/echo/index.js';
import type { HubOptions } from '../../pkg/index.js';
import { perTest } from '../helpers.js';

const WS = WebSocket as unknown as WebSocketConstructor;
const { start, cleanup } = perTest();

/** A hub that lets everyone subscribe and publish, and answers `whoami` with the connection's id. */
async function hubForEcho(options: HubOptions = { authorize: () => true }) {
  const s = await start(options);
  s.hub.handle('whoami', (_message, context) => ({ id: context.id }));
  return s;
}

function echoOn(url: string, extra: Record<string, unknown> = {}) {
  const echo = new Echo({ broadcaster: LivehubConnector, url, livehub: { WebSocket: WS }, withoutInterceptors: true, ...extra });
  cleanup(() => echo.disconnect());
  return echo as Echo<'null'> & { connector: LivehubConnector };
}

describe('livehub/echo: Laravel Echo 2 on a livehub hub', () => {
  it('listens on a public channel, stops listening, and leaves the channel', async () => {
    const s = await hubForEcho();
    const echo = echoOn(s.url);
    const seen: unknown[] = [];
    const callback = (order: unknown) => seen.push(order);
    echo.channel('orders').listen('OrderShipped', callback);
    await expect.poll(() => s.hub.info().channels).toBe(1);
    s.hub.publish('orders', 'OrderShipped', { id: 1 });
    s.hub.publish('orders', 'OrderPaid', { id: 2 });
    await expect.poll(() => seen).toEqual([{ id: 1 }]);
    echo.channel('orders').stopListening('OrderShipped', callback);
    s.hub.publish('orders', 'OrderShipped', { id: 3 });
    echo.listen('orders', '.OrderPaid', callback);
    s.hub.publish('orders', 'OrderPaid', { id: 4 });
    await expect.poll(() => seen).toEqual([{ id: 1 }, { id: 4 }]);
    echo.leaveChannel('orders');
    await expect.poll(() => s.hub.info().channels).toBe(0);
  });

  it('maps an event namespace to dotted types, and a leading dot to the type as it is', async () => {
    const s = await hubForEcho();
    const echo = echoOn(s.url, { namespace: 'App.Events' });
    const seen: string[] = [];
    echo.channel('n').listen('OrderShipped', () => seen.push('namespaced')).listen('.raw', () => seen.push('raw'));
    await expect.poll(() => s.hub.info().channels).toBe(1);
    s.hub.publish('n', 'OrderShipped', null);
    s.hub.publish('n', 'App.Events.OrderShipped', null);
    s.hub.publish('n', 'raw', null);
    await expect.poll(() => seen).toEqual(['namespaced', 'raw']);
  });

  it('subscribes private channels with the private- prefix, and reports a refusal to error()', async () => {
    const s = await hubForEcho({ authorize: ({ channel }) => channel === 'private-mine' });
    const echo = echoOn(s.url);
    const seen: unknown[] = [];
    const errors: string[] = [];
    echo.private('mine').listen('.secret', (data: unknown) => seen.push(data));
    echo.private('theirs').error((error: { code: string }) => errors.push(error.code));
    await expect.poll(() => errors).toEqual(['forbidden']);
    s.hub.publish('private-mine', 'secret', 42);
    await expect.poll(() => seen).toEqual([42]);
  });

  it('presence: here lists the members, joining and leaving follow the others, whispers reach the others only', async () => {
    const s = await hubForEcho({ authorize: () => true, presenceInfo: () => ({ name: 'someone' }) });
    const ann = echoOn(s.url);
    const events: unknown[] = [];
    const annRoom = ann.join('room')
      .here((members: Array<{ id: string; name: string }>) => events.push(['here', members.length, members[0]?.name]))
      .joining((member: { id: string }) => events.push(['joining', typeof member.id]))
      .leaving((member: { id: string }) => events.push(['leaving', typeof member.id]))
      .listenForWhisper('typing', (data: unknown) => events.push(['ann heard', data]));
    await expect.poll(() => events).toEqual([['here', 1, 'someone']]);
    const bob = echoOn(s.url);
    const bobHeard: unknown[] = [];
    bob.join('room').listenForWhisper('typing', (data: unknown) => bobHeard.push(data));
    await expect.poll(() => events).toEqual([['here', 1, 'someone'], ['joining', 'string']]);
    (annRoom as unknown as { whisper(name: string, data: unknown): void }).whisper('typing', { typing: true });
    await expect.poll(() => bobHeard).toEqual([{ typing: true }]);
    bob.leave('room');
    await expect.poll(() => events.at(-1)).toEqual(['leaving', 'string']);
    expect(events.filter((e) => (e as string[])[0] === 'ann heard')).toEqual([]);
  });

  it('socketId() is the id the server stamps on this connection\'s publishes; the status follows the connection', async () => {
    const s = await hubForEcho();
    const echo = echoOn(s.url);
    const statuses: string[] = [];
    echo.connector.onConnectionChange((status) => statuses.push(status));
    await expect.poll(() => echo.socketId()).toBeTypeOf('string');
    expect(echo.connectionStatus()).toBe('connected');
    const stamped: Array<string | undefined> = [];
    echo.channel('stamp').listen('.hello', () => {});
    const watcher = echoOn(s.url);
    watcher.channel('stamp').listen('.hello', (_data: unknown) => {});
    watcher.connector.client.on('stamp', (_data, message) => stamped.push(message.from?.client));
    await expect.poll(() => s.hub.info().channels).toBe(1);
    await expect.poll(() => watcher.connectionStatus()).toBe('connected');
    await echo.connector.client.publish('stamp', 'hello', 1);
    await expect.poll(() => stamped).toEqual([echo.socketId()]);
    echo.disconnect();
    expect(echo.connectionStatus()).toBe('disconnected');
    expect(echo.socketId()).toBeUndefined();
    expect(statuses).toContain('connected');
    expect(statuses.at(-1)).toBe('disconnected');
  });
});
