import { effectScope, isShallow, nextTick, ref } from '@vue/runtime-core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApp } from 'vue';
import { WebSocket } from 'ws';
import { LiveClient, type WebSocketConstructor } from '../../client/index.js';
import { createLivehub, useChannel, useConnectionState, usePresence, useRealtime } from '../../client/vue.js';
import { Peer, perTest } from '../helpers.js';
import { countingWebSocket } from './react-helpers.js';

const WS = WebSocket as unknown as WebSocketConstructor;
const { start, cleanup } = perTest();
let warnings: unknown[][] = [];
beforeEach(() => { warnings = []; vi.spyOn(console, 'warn').mockImplementation((...args) => { warnings.push(args); }); });
afterEach(() => { vi.restoreAllMocks(); expect(warnings).toEqual([]); });

async function clientOn(url: string, WebSocket = WS) {
  const client = new LiveClient(url, { WebSocket });
  cleanup(() => client.dispose());
  return client;
}

describe('livehub/vue parity hooks, outside components', () => {
  it('useChannel in a bare effectScope with an explicit client listens, dispatches by message type, shows a refused publish in error, and ends with the scope', async () => {
    // The hub logs the refused publish below; only the client's console is checked here.
    const s = await start({ logger: false });
    const client = await clientOn(s.url);
    const scope = effectScope();
    const seen: unknown[] = [];
    const { publish, error } = scope.run(() => useChannel('c', { types: { a: (data) => seen.push(['a', data]) } }, { client }))!;
    await expect.poll(() => s.hub.info().channels).toBe(1);
    s.hub.publish('c', 'a', 1);
    s.hub.publish('c', 'b', 2);
    await expect.poll(() => seen).toEqual([['a', 1]]);
    await expect(publish('a', 3)).rejects.toMatchObject({ code: 'forbidden' });
    expect(error.value).toMatchObject({ code: 'forbidden', channel: 'c' });
    // The client (never the composable) warns once in development builds.
    expect(warnings.splice(0).map(([text]) => String(text))).toEqual([expect.stringContaining('refused a publish to "c" (forbidden)')]);
    scope.stop();
    await expect.poll(() => s.hub.info().channels).toBe(0);
  });

  it('useChannel follows a ref channel name, letting go of the old one', async () => {
    const s = await start();
    const counting = countingWebSocket();
    const client = await clientOn(s.url, counting.WebSocket);
    const name = ref<string | null>('room-a');
    const seen: unknown[] = [];
    const scope = effectScope();
    scope.run(() => useChannel(name, (data, message) => seen.push([message.channel, data]), { client }));
    cleanup(() => scope.stop());
    await expect.poll(() => counting.frames('subscribe', 'room-a')).toHaveLength(1);
    name.value = 'room-b';
    await nextTick();
    await expect.poll(() => counting.frames('unsubscribe', 'room-a')).toHaveLength(1);
    await expect.poll(() => s.hub.info().channels).toBe(1);
    s.hub.publish('room-a', 'x', 1);
    s.hub.publish('room-b', 'x', 2);
    await expect.poll(() => seen).toEqual([['room-b', 2]]);
    name.value = null;
    await nextTick();
    await expect.poll(() => s.hub.info().channels).toBe(0);
  });

  it('useRealtime uses the app\'s provided client inside runWithContext, keeps events in a shallowRef, and clears them', async () => {
    const s = await start();
    const livehub = createLivehub(s.url, { WebSocket: WS });
    cleanup(() => livehub.client.dispose());
    const app = createApp({ render: () => null }).use(livehub);
    const scope = effectScope();
    const calls: string[] = [];
    const feed = app.runWithContext(() => scope.run(() => useRealtime<number>({ channel: 'inbox:1', types: ['message_new'], max: 2, onEvent: (type, data) => calls.push(`${type}:${data}`) })))!;
    cleanup(() => scope.stop());
    expect(isShallow(feed.events)).toBe(true);
    await expect.poll(() => feed.connected.value).toBe(true);
    await expect.poll(() => s.hub.info().channels).toBe(1);
    for (const [type, data] of [['message_new', 1], ['typing', 2], ['message_new', 3], ['message_new', 4]] as const) s.hub.publish('inbox:1', type, data);
    await expect.poll(() => feed.events.value.map((e) => e.data)).toEqual([3, 4]);
    expect(calls).toEqual(['message_new:1', 'message_new:3', 'message_new:4']);
    feed.clearEvents();
    expect(feed.events.value).toEqual([]);
    feed.disconnect();
    expect(feed.connected.value).toBe(false);
    feed.reconnect();
    await expect.poll(() => feed.connected.value).toBe(true);
  });

  it('useConnectionState and usePresence work in a bare scope with an explicit client; members is a shallowRef', async () => {
    const s = await start({ authorize: () => true });
    const client = await clientOn(s.url);
    const scope = effectScope();
    const [state, presence] = scope.run(() => [useConnectionState({ client }), usePresence('presence-x', { client })] as const)!;
    cleanup(() => scope.stop());
    await expect.poll(() => state.status.value).toBe('open');
    expect(state.connected.value).toBe(true);
    expect(isShallow(presence.members)).toBe(true);
    await expect.poll(() => presence.count.value).toBe(1);
    const other = await Peer.open(s.url);
    cleanup(() => other.close());
    other.send({ type: 'subscribe', channel: 'presence-x' });
    await expect.poll(() => presence.count.value).toBe(2);
  });

  it('two usePresence on one channel share one subscription and both see the list', async () => {
    const s = await start({ authorize: () => true });
    const counting = countingWebSocket();
    const client = await clientOn(s.url, counting.WebSocket);
    await expect.poll(() => client.status).toBe('open');
    const first = effectScope();
    const a = first.run(() => usePresence('presence-y', { client }))!;
    await expect.poll(() => a.count.value).toBe(1);
    const second = effectScope();
    const b = second.run(() => usePresence('presence-y', { client }))!;
    expect(b.count.value).toBe(1);
    first.stop();
    second.stop();
    await expect.poll(() => s.hub.info().channels).toBe(0);
    expect(counting.frames('subscribe', 'presence-y')).toHaveLength(1);
  });

  it('throws a TypeError naming the fix, without a Vue warning, when there is no client', () => {
    const scope = effectScope();
    expect(() => scope.run(() => useChannel('x', () => {}))).toThrow(/createLivehub/);
    expect(() => useRealtime({ channel: 'x', client: new LiveClient('ws://127.0.0.1:1/ws', { autoConnect: false }), evnts: [] } as never)).toThrow(/unknown option 'evnts'/);
    scope.stop();
  });
});

describe('useLiveUpdate and server-side handlers', () => {
  it('requests a handler, sends to it, hears direct messages, and shows the transport', async () => {
    const { hub, url } = await start({ logger: false });
    const sent: unknown[] = [];
    hub.handle('sum', ({ data }) => (data as number[]).reduce((a, b) => a + b, 0));
    hub.handle('note', ({ data }, _ctx, kit) => { sent.push(data); kit.send('noted', data); });
    const scope = effectScope();
    const { useLiveUpdate } = await import('../../client/vue.js');
    const live = scope.run(() => useLiveUpdate(url, { WebSocket }))!;
    cleanup(() => scope.stop());
    const direct: unknown[] = [];
    live.direct.on('noted', (data) => direct.push(data));
    await expect.poll(() => live.connected.value).toBe(true);
    expect(live.transport.value).toBe('websocket');
    expect(await live.request('sum', [1, 2, 3])).toBe(6);
    expect(live.send('note', 'hello')).toBe(true);
    await expect.poll(() => direct).toEqual(['hello']);
    expect(sent).toEqual(['hello']);
  });
});
