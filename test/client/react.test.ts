// @vitest-environment happy-dom
import { act, cleanup as unmountAll, render, renderHook } from '@testing-library/react';
import { createElement, StrictMode, useState, type ReactNode } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveClient } from '../../client/index.js';
import { LivehubProvider, useChannel, useConnectionState, useLiveUpdate, usePresence, useRealtime } from '../../client/react/index.js';
import { Peer, perTest } from '../helpers.js';
import { countingWebSocket } from './react-helpers.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
const { start, cleanup } = perTest();
afterEach(() => unmountAll());

/** A provider on a real hub, counting sockets and frames; StrictMode unless told otherwise. */
function wrapperFor(url: string, strict = true) {
  const counting = countingWebSocket();
  const wrapper = ({ children }: { children?: ReactNode }) => {
    const provider = createElement(LivehubProvider, { url, options: { WebSocket: counting.WebSocket } }, children);
    return strict ? createElement(StrictMode, null, provider) : provider;
  };
  return { wrapper, ...counting };
}

describe('livehub/react', () => {
  it('opens one connection and sends one subscribe under StrictMode double mounting, and delivers each message once', async () => {
    const s = await start();
    const { wrapper, sockets, frames } = wrapperFor(s.url);
    const seen: unknown[] = [];
    function Prices() {
      useChannel('prices', (data) => seen.push(data));
      return null;
    }
    // The channel's component mounts once the connection is open, so a churn would reach the server.
    function App({ show }: { show: boolean }) {
      const { status } = useConnectionState();
      return createElement('div', null, status, show ? createElement(Prices) : null);
    }
    const view = render(createElement(App, { show: false }), { wrapper });
    await expect.poll(() => view.container.textContent).toBe('open');
    view.rerender(createElement(App, { show: true }));
    await expect.poll(() => s.hub.info().channels).toBe(1);
    s.hub.publish('prices', 'tick', 1);
    await expect.poll(() => seen).toEqual([1]);
    expect(sockets).toHaveLength(1);
    expect(s.hub.info().clients).toBe(1);
    expect(frames('subscribe', 'prices')).toHaveLength(1);
    expect(frames('unsubscribe')).toHaveLength(0);
  });

  it('tracks the connection state from idle to open on useSyncExternalStore', async () => {
    const s = await start();
    const { wrapper } = wrapperFor(s.url);
    const { result } = renderHook(() => useConnectionState(), { wrapper });
    expect(result.current).toMatchObject({ status: expect.stringMatching(/idle|connecting/), connected: false, error: null });
    await expect.poll(() => result.current.status).toBe('open');
    expect(result.current.connected).toBe(true);
  });

  it('unsubscribes and closes the provider\'s connection after unmount', async () => {
    const s = await start();
    const { wrapper, frames } = wrapperFor(s.url);
    const view = renderHook(() => useChannel('news', () => {}), { wrapper });
    await expect.poll(() => s.hub.info().channels).toBe(1);
    view.unmount();
    await expect.poll(() => s.hub.info().clients).toBe(0);
    expect(s.hub.info().channels).toBe(0);
    expect(frames('subscribe', 'news')).toHaveLength(1);
  });

  it('calls the newest callback after a rerender without subscribing again', async () => {
    const s = await start();
    const { wrapper, frames } = wrapperFor(s.url);
    const calls: string[] = [];
    const view = renderHook(({ tag }) => useChannel('c', { types: { t: (data) => calls.push(`${tag}:${String(data)}`) } }), { wrapper, initialProps: { tag: 'first' } });
    await expect.poll(() => s.hub.info().channels).toBe(1);
    view.rerender({ tag: 'second' });
    view.rerender({ tag: 'third' });
    s.hub.publish('c', 't', 1);
    s.hub.publish('c', 'other', 2);
    await expect.poll(() => calls).toEqual(['third:1']);
    expect(frames('subscribe', 'c')).toHaveLength(1);
  });

  it('moves to a new channel when the name changes, letting go of the old one', async () => {
    const s = await start();
    const { wrapper, frames } = wrapperFor(s.url);
    const seen: unknown[] = [];
    const view = renderHook(({ channel }) => useChannel(channel, (data, message) => seen.push([message.channel, data])), { wrapper, initialProps: { channel: 'room-a' } });
    await expect.poll(() => frames('subscribe', 'room-a')).toHaveLength(1);
    view.rerender({ channel: 'room-b' });
    await expect.poll(() => frames('unsubscribe', 'room-a')).toHaveLength(1);
    await expect.poll(() => s.hub.info().channels).toBe(1);
    s.hub.publish('room-a', 'x', 1);
    s.hub.publish('room-b', 'x', 2);
    await expect.poll(() => seen).toEqual([['room-b', 2]]);
  });

  it('keeps usePresence members current and sets the status, with one subscribe under StrictMode', async () => {
    const s = await start({ authorize: () => true });
    const { wrapper, frames } = wrapperFor(s.url);
    const { result } = renderHook(() => usePresence('presence-team'), { wrapper });
    expect(result.current.members).toEqual([]);
    await expect.poll(() => result.current.count).toBe(1);
    const other = await Peer.open(s.url);
    cleanup(() => other.close());
    other.send({ type: 'subscribe', channel: 'presence-team' });
    await expect.poll(() => result.current.count).toBe(2);
    const mine = result.current.members.find((m) => m.userId !== result.current.members.at(-1)!.userId)!;
    await act(() => result.current.setStatus('busy'));
    await expect.poll(() => result.current.members.find((m) => m.userId === mine.userId)?.status).toBe('busy');
    other.close();
    await expect.poll(() => result.current.count).toBe(1);
    expect(frames('subscribe', 'presence-team')).toHaveLength(1);
  });

  it('useRealtime keeps messages of the chosen types, calls the newest onEvent, caps the log, and clears it', async () => {
    const s = await start();
    const { wrapper } = wrapperFor(s.url);
    const calls: string[] = [];
    const view = renderHook(({ tag }) => useRealtime<number>({
      channel: 'inbox:42', types: ['message_new', 'message_read'], max: 2,
      onEvent: (type, data) => calls.push(`${tag}:${type}:${data}`),
    }), { wrapper, initialProps: { tag: 'a' } });
    await expect.poll(() => view.result.current.connected).toBe(true);
    await expect.poll(() => s.hub.info().channels).toBe(1);
    view.rerender({ tag: 'b' });
    s.hub.publish('inbox:42', 'message_new', 1);
    s.hub.publish('inbox:42', 'typing', 2);
    s.hub.publish('inbox:42', 'message_read', 3);
    s.hub.publish('inbox:42', 'message_new', 4);
    await expect.poll(() => view.result.current.events.map((e) => [e.type, e.data])).toEqual([['message_read', 3], ['message_new', 4]]);
    expect(calls).toEqual(['b:message_new:1', 'b:message_read:3', 'b:message_new:4']);
    expect(view.result.current.events[0]).toMatchObject({ channel: 'inbox:42', message: { type: 'message_read' } });
    act(() => view.result.current.clearEvents());
    expect(view.result.current.events).toEqual([]);
  });

  it('useRealtime disconnect() closes the connection for good and reconnect() opens it again', async () => {
    const s = await start();
    const { wrapper } = wrapperFor(s.url, false);
    const view = renderHook(() => useRealtime({ channel: 'feed' }), { wrapper });
    await expect.poll(() => view.result.current.connected).toBe(true);
    act(() => view.result.current.disconnect());
    expect(view.result.current.connected).toBe(false);
    await expect.poll(() => s.hub.info().clients).toBe(0);
    act(() => view.result.current.reconnect());
    await expect.poll(() => view.result.current.connected).toBe(true);
    await expect.poll(() => s.hub.info().channels).toBe(1);
    s.hub.publish('feed', 'e', 'back');
    await expect.poll(() => view.result.current.events.map((e) => e.data)).toEqual(['back']);
  });

  it('a specialised hook built on useRealtime (the README example) lists its events', async () => {
    const s = await start();
    const { wrapper } = wrapperFor(s.url);
    const useRealtimeMessages = (userId: string) => useRealtime<{ text: string }>({ channel: `inbox:${userId}`, types: ['message_new', 'typing_start'] });
    const view = renderHook(() => useRealtimeMessages('7'), { wrapper });
    await expect.poll(() => s.hub.info().channels).toBe(1);
    s.hub.publish('inbox:7', 'message_new', { text: 'hi' });
    await expect.poll(() => view.result.current.events.map((e) => e.data.text)).toEqual(['hi']);
  });

  it('useLiveUpdate(url) opens its own connection, ends what on() registered at unmount, and closes', async () => {
    const s = await start();
    const { WebSocket, sockets } = countingWebSocket();
    const seen: unknown[] = [];
    function Listener() {
      const live = useLiveUpdate(s.url, { WebSocket });
      const [, setTick] = useState(0);
      useStateEffect(live, seen, setTick);
      return createElement('span', null, live.status);
    }
    const view = render(createElement(StrictMode, null, createElement(Listener)));
    await expect.poll(() => view.container.textContent).toBe('open');
    await expect.poll(() => s.hub.info().channels).toBe(1);
    s.hub.publish('orders', 'created', 9);
    await expect.poll(() => seen).toEqual([9]);
    expect(sockets).toHaveLength(1);
    view.unmount();
    await expect.poll(() => s.hub.info().clients).toBe(0);
  });

  it('uses an explicit client without a provider, and leaves it open after unmount', async () => {
    const s = await start();
    const { WebSocket } = countingWebSocket();
    const client = new LiveClient(s.url, { WebSocket });
    cleanup(() => client.dispose());
    const view = renderHook(() => useChannel('direct', () => {}, { client }));
    await expect.poll(() => s.hub.info().channels).toBe(1);
    view.unmount();
    await expect.poll(() => s.hub.info().channels).toBe(0);
    expect(client.status).toBe('open');
  });

  it('throws a TypeError naming the fix when there is neither a provider nor a client', () => {
    expect(() => renderHook(() => useChannel('x', () => {}))).toThrow(/LivehubProvider/);
    expect(() => renderHook(() => useRealtime({ channel: 'x', onEvnt: () => {} } as never), { wrapper: wrapperFor('ws://127.0.0.1:1/ws').wrapper })).toThrow(/unknown option 'onEvnt'/);
  });
});

/** Registers an `on('orders')` handler in an effect, as components do. */
function useStateEffect(live: ReturnType<typeof useLiveUpdate>, seen: unknown[], setTick: (n: number) => void) {
  useEffectOnce(() => live.on('orders', (data) => { seen.push(data); setTick(seen.length); }));
}

import { useEffect } from 'react';
function useEffectOnce(effect: () => () => void) {
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(effect, []);
}
