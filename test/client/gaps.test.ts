// @vitest-environment happy-dom
import { act, cleanup as unmountAll, renderHook } from '@testing-library/react';
import { effectScope } from '@vue/runtime-core';
import { createElement, type ReactNode } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient, type GapEvent, type WebSocketConstructor } from '../../client/index.js';
import * as react from '../../client/react/index.js';
import * as vue from '../../client/vue.js';
import { perTest, subscribers, type StartedHub } from '../helpers.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
const { start, cleanup } = perTest();
afterEach(() => unmountAll());

/** A hub whose channels keep 2 messages of history: a client away for more gets a gap. */
const smallHistory = () => start({ history: { size: 2, ttl: 60_000 } });

function clientOf(url: string) {
  const client = new LiveClient(url, { WebSocket: WebSocket as unknown as WebSocketConstructor });
  cleanup(() => client.dispose());
  return client;
}

const wrapperFor = (client: LiveClient) => ({ children }: { children?: ReactNode }) => createElement(react.LivehubProvider, { client }, children);

/** The client goes away, `count` messages are published on `channel` meanwhile, and it comes back. */
async function away(s: StartedHub, client: LiveClient, channel: string, count: number): Promise<void> {
  act(() => client.close());
  for (let i = 0; i < count; i++) await s.hub.publish(channel, 'm', `missed ${i}`);
  act(() => client.connect());
}

describe('the hooks show a gap, the messages recovery could not bring back', () => {
  it('React useChannel keeps the gap (channel, since, position, count) until clearGap(), and calls the newest onGap as it happens', async () => {
    const s = await smallHistory();
    const client = clientOf(s.url);
    const got: unknown[] = [];
    const calls: Array<[string, GapEvent]> = [];
    const view = renderHook(({ tag }) => react.useChannel('chat', (data) => got.push(data), { onGap: (gap) => calls.push([tag, gap]) }), {
      wrapper: wrapperFor(client), initialProps: { tag: 'first' },
    });
    await expect.poll(() => subscribers(s.hub, 'chat')).toBe(1);
    await s.hub.publish('chat', 'm', 'seen');
    await expect.poll(() => got).toEqual(['seen']);
    expect(view.result.current.gap).toBeNull();
    const seen = await s.hub.position('chat');

    view.rerender({ tag: 'newest' });
    await away(s, client, 'chat', 5);
    const after = await s.hub.position('chat');
    await expect.poll(() => view.result.current.gap).toEqual({ channel: 'chat', since: seen, position: after, count: 1 });
    expect(calls).toEqual([['newest', { channel: 'chat', since: seen, position: after }]]);
    expect(got).toEqual(['seen']); // nothing of the missed range was replayed

    // A second gap before the page cleared the first: counted, never hidden.
    await away(s, client, 'chat', 3);
    const latest = await s.hub.position('chat');
    await expect.poll(() => view.result.current.gap).toEqual({ channel: 'chat', since: after, position: latest, count: 2 });
    act(() => view.result.current.clearGap());
    expect(view.result.current.gap).toBeNull();
    await s.hub.publish('chat', 'm', 'live again');
    await expect.poll(() => got).toEqual(['seen', 'live again']);
  });

  it('Vue useChannel shows the same gap as a ref, calls onGap, and clears it with clearGap()', async () => {
    const s = await smallHistory();
    const client = clientOf(s.url);
    const scope = effectScope();
    cleanup(() => scope.stop());
    const calls: GapEvent[] = [];
    const chat = scope.run(() => vue.useChannel('chat', () => {}, { client, onGap: (gap) => calls.push(gap) }))!;
    await expect.poll(() => subscribers(s.hub, 'chat')).toBe(1);
    await s.hub.publish('chat', 'm', 'seen');
    await expect.poll(() => client.position('chat')?.offset).toBe(1);
    await away(s, client, 'chat', 5);
    await expect.poll(() => chat.gap.value?.count).toBe(1);
    expect(chat.gap.value).toMatchObject({ channel: 'chat', since: { offset: 1 }, position: { offset: 6 } });
    expect(calls).toHaveLength(1);
    chat.clearGap();
    expect(chat.gap.value).toBeNull();
  });

  it('useRealtime and useLiveUpdate, in Vue and React, show a gap on their own channels only', async () => {
    const s = await smallHistory();
    const client = clientOf(s.url);
    const scope = effectScope();
    cleanup(() => scope.stop());
    const fromVue = scope.run(() => ({
      feed: vue.useRealtime({ channel: ['chat', 'news'], client }),
      live: vue.useLiveUpdate(undefined, { client }),
      other: vue.useRealtime({ channel: 'other', client }),
    }))!;
    fromVue.live.on('chat', () => {});
    const fromReact = renderHook(() => ({
      feed: react.useRealtime({ channel: 'chat' }),
      live: react.useLiveUpdate(),
      other: react.useChannel('other', () => {}),
    }), { wrapper: wrapperFor(client) });
    act(() => { fromReact.result.current.live.subscribe('chat'); });
    await expect.poll(() => [subscribers(s.hub, 'chat'), subscribers(s.hub, 'other')]).toEqual([1, 1]);
    await s.hub.publish('chat', 'm', 'seen');
    await expect.poll(() => client.position('chat')?.offset).toBe(1);
    await away(s, client, 'chat', 5);
    const gap = { channel: 'chat', since: { offset: 1 }, position: { offset: 6 }, count: 1 };
    await expect.poll(() => fromReact.result.current.feed.gap).toMatchObject(gap);
    expect(fromReact.result.current.live.gap).toMatchObject(gap);
    expect(fromVue.feed.gap.value).toMatchObject(gap);
    expect(fromVue.live.gap.value).toMatchObject(gap);
    expect(fromVue.other.gap.value).toBeNull();
    expect(fromReact.result.current.other.gap).toBeNull();
    act(() => fromReact.result.current.feed.clearGap());
    expect(fromReact.result.current.feed.gap).toBeNull();
    expect(fromReact.result.current.live.gap).toMatchObject(gap); // each hook clears its own
  });

  it('useChannel refuses a misspelt option with a TypeError naming the right one, in Vue and React', () => {
    const client = clientOf('ws://127.0.0.1:1/ws');
    const options = { client, onGapp: () => {} } as never;
    expect(() => renderHook(() => react.useChannel('chat', () => {}, options))).toThrow(/unknown option 'onGapp'.*did you mean 'onGap'/);
    expect(() => effectScope().run(() => vue.useChannel('chat', () => {}, options))).toThrow(/unknown option 'onGapp'.*did you mean 'onGap'/);
  });
});
