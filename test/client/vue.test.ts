import { effectScope, nextTick, watch } from '@vue/runtime-core';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient } from '../../client/index.js';
import { useLiveUpdate } from '../../client/vue.js';
import { perTest } from '../helpers.js';
import { gateProxy } from './gate-proxy.js';

const WS = WebSocket;
const { start, cleanup } = perTest();

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
    await expect.poll(() => s.hub.info().channels).toBe(1);
    s.hub.publish('prices', 'tick', 42);
    await expect.poll(() => seen).toEqual([[42, 'tick']]);
    scope.stop();
  });

  it('closes its connection, and never reconnects, when the scope is disposed', async () => {
    const s = await start();
    const scope = effectScope();
    const live = scope.run(() => useLiveUpdate(s.url, { WebSocket: WS, reconnect: { delay: 10 } }))!;
    live.on('a', () => {});
    await expect.poll(() => s.hub.info().clients).toBe(1);
    scope.stop();
    await expect.poll(() => s.hub.info().clients).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.hub.info().clients).toBe(0);
    expect(live.getClient().status).toBe('closed');
  });

  it('shares one client between components and holds a channel while any of them listens', async () => {
    const s = await start();
    const client = new LiveClient(s.url, { WebSocket: WS });
    const first = effectScope();
    const second = effectScope();
    first.run(() => useLiveUpdate(undefined, { client }).on('shared', () => {}));
    second.run(() => useLiveUpdate(undefined, { client }).on('shared', () => {}));
    await expect.poll(() => s.hub.info().channels).toBe(1);
    first.stop();
    await nextTick();
    await new Promise((r) => setTimeout(r, 50));
    expect(s.hub.info().channels).toBe(1);
    second.stop();
    await expect.poll(() => s.hub.info().channels).toBe(0);
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
    await expect.poll(() => s.hub.info().channels).toBe(1);
    off();
    s.hub.publish('c', 't', 1);
    await expect.poll(() => seen).toEqual([['keep', 1]]);
    keep();
    scope.stop();
  });

  it('throws a TypeError without a url or a provided client', () => {
    expect(() => useLiveUpdate()).toThrow(TypeError);
  });

  it('disconnect(), as the Go original names it, closes the connection for good', async () => {
    const s = await start();
    const scope = effectScope();
    const live = scope.run(() => useLiveUpdate(s.url, { WebSocket: WS, reconnect: { delay: 10 } }))!;
    cleanup(() => scope.stop());
    await expect.poll(() => live.connected.value).toBe(true);
    live.disconnect();
    expect(live.connected.value).toBe(false);
    expect(live.status.value).toBe('closed');
    await expect.poll(() => s.hub.info().clients).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.hub.info().clients).toBe(0);
  });

  it('sets error when the connection cannot be made, and clears it once the connection opens', async () => {
    const s = await start();
    const proxy = await gateProxy(s.port, (n) => (n <= 2 ? 'refuse' : 'forward'));
    cleanup(() => proxy.close());
    const scope = effectScope();
    const live = scope.run(() => useLiveUpdate(`ws://127.0.0.1:${proxy.port}/ws`, { WebSocket: WS, reconnect: { delay: 20 } }))!;
    cleanup(() => scope.stop());
    const codes: Array<string | null> = [];
    scope.run(() => watch(live.error, (error) => codes.push(error ? (error as { code?: string }).code ?? error.message : null), { flush: 'sync' }));
    await expect.poll(() => live.connected.value).toBe(true);
    expect(codes[0]).toBe('connect_failed');
    expect(codes.at(-1)).toBeNull();
    expect(live.error.value).toBeNull();
    expect(proxy.seen).toEqual(['refuse', 'refuse', 'forward']);
  });

  it("on('*') gets every message the connection receives, on any channel, and the \"*\" broadcast, each once", async () => {
    const s = await start();
    const scope = effectScope();
    const live = scope.run(() => useLiveUpdate(s.url, { WebSocket: WS }))!;
    cleanup(() => scope.stop());
    const all: unknown[] = [];
    const onA: unknown[] = [];
    const offAll = live.on('*', (data, message) => all.push([message.channel, message.type, data]));
    live.on('a', (data) => onA.push(data));
    live.subscribe('b');
    await expect.poll(() => s.hub.info().channels).toBe(2);
    s.hub.publish('a', 'x', 1);
    s.hub.publish('b', 'y', 2);
    s.hub.publish('*', 'z', 3);
    s.hub.publish('c', 'unsubscribed-channel', 4);
    await expect.poll(() => all).toEqual([['a', 'x', 1], ['b', 'y', 2], ['*', 'z', 3]]);
    expect(onA).toEqual([1]);
    offAll();
    s.hub.publish('a', 'x', 5);
    await expect.poll(() => onA).toEqual([1, 5]);
    expect(all).toHaveLength(3);
  });

  it("off('*', handler) stops a \"*\" handler", async () => {
    const s = await start();
    const scope = effectScope();
    const live = scope.run(() => useLiveUpdate(s.url, { WebSocket: WS }))!;
    cleanup(() => scope.stop());
    const all: unknown[] = [];
    const kept: unknown[] = [];
    const handler = (data: unknown) => all.push(data);
    live.on('*', handler);
    live.on('a', (data) => kept.push(data));
    await expect.poll(() => s.hub.info().channels).toBe(1);
    live.off('*', handler);
    s.hub.publish('a', 'x', 1);
    await expect.poll(() => kept).toEqual([1]);
    expect(all).toEqual([]);
  });
});
