import { effectScope, nextTick } from '@vue/runtime-core';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient, type WebSocketConstructor } from '../../client/index.js';
import { useLiveUpdate } from '../../client/vue.js';
import { perTest } from '../helpers.js';

const WS = WebSocket as unknown as WebSocketConstructor;
const { start } = perTest();

describe('useLiveUpdate', () => {
  it('subscribes handlers registered before open, delivers (data, message), and tracks connected', async () => {
    const s = await start();
    const scope = effectScope();
    const live = scope.run(() => useLiveUpdate(s.url, { WebSocket: WS }))!;
    const seen: unknown[] = [];
    live.on('prices', (data, message) => seen.push([data, message.type]));
    expect(live.connected.value).toBe(false);
    await expect.poll(() => live.connected.value).toBe(true);
    expect(live.status.value).toBe('open');
    await expect.poll(() => s.hub.stats().channels).toBe(1);
    s.hub.publish('prices', 'tick', 42);
    await expect.poll(() => seen).toEqual([[42, 'tick']]);
    scope.stop();
  });

  it('closes its connection, and never reconnects, when the scope is disposed', async () => {
    const s = await start();
    const scope = effectScope();
    const live = scope.run(() => useLiveUpdate(s.url, { WebSocket: WS, reconnectDelay: 10 }))!;
    live.on('a', () => {});
    await expect.poll(() => s.hub.stats().clients).toBe(1);
    scope.stop();
    await expect.poll(() => s.hub.stats().clients).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.hub.stats().clients).toBe(0);
    expect(live.client.status).toBe('closed');
  });

  it('shares one client between components and holds a channel while any of them listens', async () => {
    const s = await start();
    const client = new LiveClient(s.url, { WebSocket: WS });
    const first = effectScope();
    const second = effectScope();
    first.run(() => useLiveUpdate(undefined, { client }).on('shared', () => {}));
    second.run(() => useLiveUpdate(undefined, { client }).on('shared', () => {}));
    await expect.poll(() => s.hub.stats().channels).toBe(1);
    first.stop();
    await nextTick();
    await new Promise((r) => setTimeout(r, 50));
    expect(s.hub.stats().channels).toBe(1);
    second.stop();
    await expect.poll(() => s.hub.stats().channels).toBe(0);
    expect(client.status).toBe('open'); // not owned: left open for others
    client.dispose();
  });

  it('off() returned by on() stops the handler', async () => {
    const s = await start();
    const scope = effectScope();
    const live = scope.run(() => useLiveUpdate(s.url, { WebSocket: WS }))!;
    const seen: unknown[] = [];
    const keep = live.on('c', (d) => seen.push(['keep', d]));
    const off = live.on('c', (d) => seen.push(['off', d]));
    await expect.poll(() => s.hub.stats().channels).toBe(1);
    off();
    s.hub.publish('c', 't', 1);
    await expect.poll(() => seen).toEqual([['keep', 1]]);
    keep();
    scope.stop();
  });

  it('throws a TypeError without a url or a provided client', () => {
    expect(() => useLiveUpdate()).toThrow(TypeError);
  });
});
