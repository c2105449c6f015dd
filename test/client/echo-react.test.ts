// @vitest-environment happy-dom
import { configureEcho, echo, useConnectionStatus, useEcho, useEchoPresence } from '@laravel/echo-react';
import { cleanup as unmountAll, renderHook } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { WebSocketConstructor } from '../../client/index.js';
import { livehubEcho } from '../../client/echo/index.js';
import { perTest } from '../helpers.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
const WS = WebSocket as unknown as WebSocketConstructor;
const { start, cleanup } = perTest();
afterEach(() => unmountAll());

describe('@laravel/echo-react hooks on livehub/echo', () => {
  it('useEcho listens on a private channel while mounted and leaves it on unmount; useConnectionStatus follows', async () => {
    const s = await start({ authorize: () => true });
    configureEcho(livehubEcho({ url: s.url, livehub: { WebSocket: WS } }));
    cleanup(() => echo().disconnect());
    const seen: unknown[] = [];
    const { result, unmount } = renderHook(() => {
      useEcho('orders.1', '.OrderShipped', (event: unknown) => seen.push(event));
      return useConnectionStatus();
    });
    await expect.poll(() => s.hub.info().channels).toBe(1);
    await expect.poll(() => result.current).toBe('connected');
    s.hub.publish('private-orders.1', 'OrderShipped', { id: 7 });
    await expect.poll(() => seen).toEqual([{ id: 7 }]);
    unmount();
    await expect.poll(() => s.hub.info().channels).toBe(0);
    s.hub.publish('private-orders.1', 'OrderShipped', { id: 8 });
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([{ id: 7 }]);
  });

  it('useEchoPresence gives the presence channel: here and joining come from livehub presence', async () => {
    const s = await start({ authorize: () => true });
    configureEcho(livehubEcho({ url: s.url, livehub: { WebSocket: WS } }));
    cleanup(() => echo().disconnect());
    const events: unknown[] = [];
    renderHook(() => {
      const { channel } = useEchoPresence('lobby', '.message', (data: unknown) => events.push(['message', data]));
      return channel;
    }).result.current()!.here((members: unknown[]) => events.push(['here', members.length])).joining(() => events.push(['joining']));
    await expect.poll(() => events).toEqual([['here', 1]]);
    const other = new WS(s.url, ['livehub.v1']);
    cleanup(() => other.close());
    await new Promise((r) => { other.onopen = r; });
    other.send(JSON.stringify({ type: 'subscribe', channel: 'presence-lobby' }));
    await expect.poll(() => events).toEqual([['here', 1], ['joining']]);
    s.hub.publish('presence-lobby', 'message', 'hi');
    await expect.poll(() => events.at(-1)).toEqual(['message', 'hi']);
  });
});
