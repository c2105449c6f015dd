// @vitest-environment happy-dom
import type { IncomingMessage } from 'node:http';
import { act, cleanup as unmountAll, renderHook } from '@testing-library/react';
import { effectScope } from '@vue/runtime-core';
import { createElement, type ReactNode } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveClient, type WebSocketConstructor } from '../../client/index.js';
import * as react from '../../client/react/index.js';
import * as vue from '../../client/vue.js';
import { perTest, subscribers } from '../helpers.js';
import type { HubOptions } from '../../pkg/index.js';
import { WebSocket as NodeWebSocket } from 'ws';
import { countingWebSocket } from './react-helpers.js';

const WS = NodeWebSocket as unknown as WebSocketConstructor;

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
const hubs = perTest();
const { cleanup } = hubs;
/** A hub whose own log lines (the server's record of each refusal) stay out of the client's console checked here. */
const start = (options: HubOptions = {}) => hubs.start({ logger: false, ...options });
let warnings: string[] = [];
beforeEach(() => {
  warnings = [];
  vi.spyOn(console, 'warn').mockImplementation((...args) => { warnings.push(String(args[0])); });
});
afterEach(() => {
  unmountAll();
  vi.restoreAllMocks();
});

/** A hub that refuses `presence-shop` and knows users by `?user=`. */
function refusingHub() {
  return start({
    authenticate: (request: IncomingMessage) => ({ userId: new URL(request.url!, 'http://x').searchParams.get('user') ?? 'anon' }),
    authorize: ({ channel }) => channel !== 'presence-shop',
  });
}

/** A client on `ws` (happy-dom's own WebSocket is not a real one). */
function clientOf(url: string, WebSocket: WebSocketConstructor = WS) {
  const client = new LiveClient(url, { WebSocket });
  cleanup(() => client.dispose());
  return client;
}

/** The channels the hub has answered a subscribe of this client for (`subscribed` or an error frame). */
function answered(client: LiveClient): string[] {
  const channels: string[] = [];
  client.events.on('reply', (reply) => { if ((reply.type === 'subscribed' || reply.type === 'error') && reply.channel) channels.push(reply.channel); });
  return channels;
}

const wrapperFor = (client: LiveClient) => ({ children }: { children?: ReactNode }) => createElement(react.LivehubProvider, { client }, children);

describe('a refused subscribe shows in the hooks', () => {
  it('React usePresence on a channel the hub refuses shows error forbidden instead of a silent "0 online", and the client warns once', async () => {
    const s = await refusingHub();
    const client = clientOf(`${s.url}?user=ann`);
    const errors: Error[] = [];
    client.events.on('error', (error) => errors.push(error));
    const first = renderHook(() => react.usePresence('presence-shop'), { wrapper: wrapperFor(client) });
    await expect.poll(() => first.result.current.error?.code).toBe('forbidden');
    expect(first.result.current).toMatchObject({ count: 0, error: { channel: 'presence-shop' } });
    expect(errors).toEqual([expect.objectContaining({ code: 'forbidden', channel: 'presence-shop' })]);
    // A second component on the channel, mounted after the refusal, shows it too.
    const second = renderHook(() => react.usePresence('presence-shop'), { wrapper: wrapperFor(client) });
    expect(second.result.current.error?.code).toBe('forbidden');
    // Refused again on the next connection: still one warning for this channel and cause.
    act(() => { client.close(); client.connect(); });
    await expect.poll(() => errors).toHaveLength(2);
    expect(warnings).toEqual([expect.stringContaining('refused a subscribe to "presence-shop" (forbidden)')]);
    expect(warnings[0]).toContain('sign in as a user who may');
  });

  it('Vue usePresence shows the same refusal in its error ref', async () => {
    const s = await refusingHub();
    const client = clientOf(`${s.url}?user=ann`);
    const scope = effectScope();
    cleanup(() => scope.stop());
    const presence = scope.run(() => vue.usePresence('presence-shop', { client }))!;
    await expect.poll(() => presence.error.value?.code).toBe('forbidden');
    expect(presence.count.value).toBe(0);
    expect(warnings).toHaveLength(1);
  });

  it('a channel that is refused and then allowed shows its error until the subscribe succeeds', async () => {
    let allow = false;
    const s = await start({ authorize: () => allow });
    const client = clientOf(s.url);
    const view = renderHook(() => react.useChannel('orders', () => {}), { wrapper: wrapperFor(client) });
    await expect.poll(() => view.result.current.error?.code).toBe('forbidden');
    allow = true;
    act(() => { client.close(); client.connect(); });
    await expect.poll(() => subscribers(s.hub, 'orders')).toBe(1);
    await expect.poll(() => view.result.current.error).toBeNull();
  });
});

describe('a refused publish or request shows in the client\'s state and events', () => {
  it('a publish the hub refuses rejects, sets lastError, emits error, shows in useChannel\'s error and warns once per channel and cause', async () => {
    const s = await start();
    const client = clientOf(s.url);
    const errors: Error[] = [];
    client.events.on('error', (error) => errors.push(error));
    const view = renderHook(() => react.useChannel('news', () => {}), { wrapper: wrapperFor(client) });
    await expect.poll(() => subscribers(s.hub, 'news')).toBe(1);
    await expect(view.result.current.publish('post', 1)).rejects.toMatchObject({ code: 'forbidden', channel: 'news' });
    await expect(client.publish('news', 'post', 2)).rejects.toMatchObject({ code: 'forbidden' });
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['forbidden', 'forbidden']);
    expect(client.lastError).toMatchObject({ code: 'forbidden', channel: 'news' });
    await expect.poll(() => view.result.current.error?.code).toBe('forbidden');
    expect(warnings).toEqual([expect.stringContaining('refused a publish to "news" (forbidden)')]);
  });

  it('a refused publish ends with the next acked one, and never hides a refused subscribe of the same channel', async () => {
    let subscribes = false;
    const s = await start({ authorize: ({ action, data }) => (action === 'subscribe' ? subscribes : data !== 'spam') });
    const client = clientOf(s.url);
    const view = renderHook(() => react.useChannel('orders', () => {}), { wrapper: wrapperFor(client) });
    await expect.poll(() => view.result.current.error?.message).toMatch(/subscribing to orders is not allowed/);
    await act(() => view.result.current.publish('post', 'fine'));
    await expect(view.result.current.publish('post', 'spam')).rejects.toMatchObject({ code: 'forbidden' });
    await act(() => view.result.current.publish('post', 'fine'));
    expect(view.result.current.error?.message).toMatch(/subscribing to orders is not allowed/);
    subscribes = true;
    act(() => { client.close(); client.connect(); });
    await expect.poll(() => subscribers(s.hub, 'orders')).toBe(1);
    await expect.poll(() => view.result.current.error).toBeNull();
    await expect(view.result.current.publish('post', 'spam')).rejects.toMatchObject({ code: 'forbidden' });
    await expect.poll(() => view.result.current.error?.message).toMatch(/publishing to orders is not allowed/);
    await act(() => view.result.current.publish('post', 'fine'));
    expect(view.result.current.error).toBeNull();
  });

  it('a request the hub refuses rejects, shows in useLiveUpdate\'s error and the error event, and warns once per request type and cause', async () => {
    const s = await start();
    s.hub.handle('orders:cancel', (_message, _context, kit) => kit.fail('too_late', 'the order has shipped'));
    const client = clientOf(s.url);
    const errors: Error[] = [];
    client.events.on('error', (error) => errors.push(error));
    const view = renderHook(() => react.useLiveUpdate(undefined, { client }));
    await expect.poll(() => view.result.current.connected).toBe(true);
    await expect(view.result.current.request('orders:cancel', { id: 1 })).rejects.toMatchObject({ code: 'too_late' });
    await expect(client.request('orders:cancel', { id: 2 })).rejects.toMatchObject({ code: 'too_late' });
    await expect(client.request('orders:unknown')).rejects.toMatchObject({ code: 'unknown_type' });
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['too_late', 'too_late', 'unknown_type']);
    await expect.poll(() => (view.result.current.error as { code?: string } | null)?.code).toBe('unknown_type');
    expect(warnings).toEqual([
      expect.stringContaining('refused a request "orders:cancel" (too_late): the order has shipped'),
      expect.stringContaining('refused a request "orders:unknown" (unknown_type)'),
    ]);
  });

  it('warns in development builds only: a production build still reports the refusal, silently', async () => {
    const s = await start();
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    let client: LiveClient;
    try {
      client = clientOf(s.url);
    } finally {
      process.env.NODE_ENV = previous;
    }
    const errors: Error[] = [];
    client.events.on('error', (error) => errors.push(error));
    await expect(client.publish('news', 'post', 1)).rejects.toMatchObject({ code: 'forbidden' });
    expect(errors).toHaveLength(1);
    expect(warnings).toEqual([]);
  });
});

describe('the personal channel user:<id>, which the hub subscribes by itself', () => {
  it('client.on(\'user:\' + id) gets what hub.sendToUser sends, with no error and no warning, and leaves the channel subscribed when it stops', async () => {
    const s = await refusingHub();
    const counting = countingWebSocket();
    const client = clientOf(`${s.url}?user=ann`, counting.WebSocket);
    const errors: Error[] = [];
    client.events.on('error', (error) => errors.push(error));
    const answers = answered(client);
    const got: unknown[] = [];
    const off = client.on('user:ann', (data, message) => got.push([message.type, data]));
    await expect.poll(() => answers).toEqual(['user:ann']);
    await s.hub.sendToUser('ann', 'notice', 'your order shipped');
    await expect.poll(() => got).toEqual([['notice', 'your order shipped']]);
    off();
    // The hub subscribed it, so it stays: the next listener hears the next message.
    const later: unknown[] = [];
    client.on('user:ann', (data) => later.push(data));
    await s.hub.sendToUser('ann', 'notice', 'delivered');
    await expect.poll(() => later).toEqual(['delivered']);
    expect(counting.frames('unsubscribe', 'user:ann')).toEqual([]);
    expect(subscribers(s.hub, 'user:ann')).toBe(1);
    expect(errors).toEqual([]);
    expect(client.lastError).toBeNull();
    expect(warnings).toEqual([]);
  });

  it('useChannel(\'user:\' + id) in React and Vue shows no error', async () => {
    const s = await refusingHub();
    const client = clientOf(`${s.url}?user=bob`);
    const answers = answered(client);
    const got: unknown[] = [];
    const view = renderHook(() => react.useChannel('user:bob', (data) => got.push(data)), { wrapper: wrapperFor(client) });
    const scope = effectScope();
    cleanup(() => scope.stop());
    const fromVue = scope.run(() => vue.useChannel('user:bob', (data) => got.push(data), { client }))!;
    await expect.poll(() => answers).toEqual(['user:bob']);
    await s.hub.sendToUser('bob', 'notice', 1);
    await expect.poll(() => got).toEqual([1, 1]);
    expect(view.result.current.error).toBeNull();
    expect(fromVue.error.value).toBeNull();
    expect(client.lastError).toBeNull();
  });
});
