// @vitest-environment happy-dom
import { configureEcho, echo, useConnectionStatus, useEcho, useEchoPresence } from '@laravel/echo-vue';
import { describe, expect, it } from 'vitest';
import { createApp, defineComponent, h, type Ref } from 'vue';
import { WebSocket } from 'ws';
import type { WebSocketConstructor } from '../../client/index.js';
import { livehubEcho } from '../../client/echo/index.js';
import { perTest } from '../helpers.js';

const WS = WebSocket as unknown as WebSocketConstructor;
const { start, cleanup } = perTest();

/** Mounts a component running `setup`, unmounted after the test. */
function mount(setup: () => void) {
  const app = createApp(defineComponent({ setup() { setup(); return () => h('div'); } }));
  app.mount(document.createElement('div'));
  let mounted = true;
  const unmount = () => { if (mounted) app.unmount(); mounted = false; };
  cleanup(unmount);
  return unmount;
}

describe('@laravel/echo-vue hooks on livehub/echo', () => {
  it('useEcho listens on a private channel while mounted and leaves it on unmount; useConnectionStatus follows', async () => {
    const s = await start({ authorize: () => true });
    configureEcho(livehubEcho({ url: s.url, livehub: { WebSocket: WS } }));
    cleanup(() => echo().disconnect());
    const seen: unknown[] = [];
    let status: Ref<string> | undefined;
    const unmount = mount(() => {
      useEcho('orders.1', '.OrderShipped', (event: unknown) => seen.push(event));
      status = useConnectionStatus();
    });
    await expect.poll(() => s.hub.info().channels).toBe(1);
    await expect.poll(() => status!.value).toBe('connected');
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
    mount(() => {
      const { channel } = useEchoPresence('lobby', '.message', (data: unknown) => events.push(['message', data]));
      channel().here((members: unknown[]) => events.push(['here', members.length])).joining(() => events.push(['joining']));
    });
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
