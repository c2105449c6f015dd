// @vitest-environment happy-dom
import { cleanup as unmountAll, renderHook } from '@testing-library/react';
import { effectScope, isRef, type Ref } from '@vue/runtime-core';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { LiveClient } from '../../client/index.js';
import type {
  ChannelActions, ChannelState, ConnectionShape, LiveUpdateActions, LiveUpdateState, PresenceActions, PresenceState, RealtimeActions, RealtimeState, ReactShape,
} from '../../client/core/index.js';
import * as react from '../../client/react/index.js';
import * as vue from '../../client/vue.js';
import { FakeSocket } from './fake-socket.js';

/** A Vue return with its refs unwrapped: what React gives as plain values. */
type Unwrapped<S> = { [K in keyof S]: S[K] extends Readonly<Ref<infer V>> ? V : S[K] };
/** Vue's deprecated aliases on useLiveUpdate, its only names React does not have. */
const VUE_ALIASES = ['client', 'close', 'onMessage'] as const;
type VueLiveUpdate = Omit<vue.UseLiveUpdateReturn, (typeof VUE_ALIASES)[number]>;

let warn: ReturnType<typeof vi.spyOn>;
let client: LiveClient;
beforeEach(() => {
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  client = new LiveClient('ws://hub.test/ws', { WebSocket: FakeSocket, autoConnect: false });
});
afterEach(() => {
  unmountAll();
  client.dispose();
  vi.restoreAllMocks();
});

describe('Vue and React hooks return one shape, derived from client/core/shapes.ts', () => {
  it('has the same fields and types in both bindings (Vue as refs, React as values)', () => {
    expectTypeOf<Unwrapped<VueLiveUpdate>>().toEqualTypeOf<Unwrapped<react.UseLiveUpdateReturn>>();
    expectTypeOf<Unwrapped<VueLiveUpdate>>().toEqualTypeOf<Unwrapped<LiveUpdateState & LiveUpdateActions>>();
    expectTypeOf<Unwrapped<vue.UseRealtimeReturn<number>>>().toEqualTypeOf<Unwrapped<react.UseRealtimeReturn<number>>>();
    expectTypeOf<Unwrapped<react.UseRealtimeReturn<number>>>().toEqualTypeOf<Unwrapped<RealtimeState<number> & RealtimeActions>>();
    expectTypeOf<Unwrapped<vue.UsePresenceReturn>>().toEqualTypeOf<Unwrapped<react.UsePresenceReturn>>();
    expectTypeOf<Unwrapped<react.UsePresenceReturn>>().toEqualTypeOf<Unwrapped<PresenceState & PresenceActions>>();
    expectTypeOf<Unwrapped<ReturnType<typeof vue.useConnectionState>>>().toEqualTypeOf<Unwrapped<ReturnType<typeof react.useConnectionState>>>();
    expectTypeOf<Unwrapped<ReturnType<typeof react.useConnectionState>>>().toEqualTypeOf<Unwrapped<ConnectionShape>>();
    expectTypeOf<Unwrapped<ReturnType<typeof vue.useChannel>>>().toEqualTypeOf<Unwrapped<ReturnType<typeof react.useChannel>>>();
    expectTypeOf<ReturnType<typeof react.useChannel>>().toEqualTypeOf<ReactShape<ChannelState, ChannelActions>>();
    expectTypeOf<Parameters<typeof vue.useChannel>[2]>().toEqualTypeOf<Parameters<typeof react.useChannel>[2]>();
    expectTypeOf<vue.UseLiveUpdateReturn['connected']>().toEqualTypeOf<Readonly<Ref<boolean>>>();
    expectTypeOf<react.UseLiveUpdateReturn['connected']>().toEqualTypeOf<boolean>();
  });

  it('returns the same keys at runtime from every hook, each Vue state field a ref', () => {
    const scope = effectScope();
    const fromVue = scope.run(() => ({
      live: vue.useLiveUpdate(undefined, { client }),
      realtime: vue.useRealtime({ channel: 'feed', client }),
      presence: vue.usePresence('presence-room', { client }),
      state: vue.useConnectionState({ client }),
      channel: vue.useChannel('room', () => {}, { client }),
    }))!;
    const fromReact = renderHook(() => ({
      live: react.useLiveUpdate(undefined, { client }),
      realtime: react.useRealtime({ channel: 'feed', client }),
      presence: react.usePresence('presence-room', { client }),
      state: react.useConnectionState({ client }),
      channel: react.useChannel('room', () => {}, { client }),
    })).result.current;
    const keys = (value: object, leaveOut: readonly string[] = []) => Object.keys(value).filter((key) => !leaveOut.includes(key)).sort();
    expect(keys(fromVue.live, VUE_ALIASES)).toEqual(keys(fromReact.live));
    expect(keys(fromVue.live)).toEqual([...keys(fromReact.live), ...VUE_ALIASES].sort());
    for (const hook of ['realtime', 'presence', 'state', 'channel'] as const) expect(keys(fromVue[hook])).toEqual(keys(fromReact[hook]));
    expect(keys(fromVue.live.direct)).toEqual(keys(fromReact.live.direct));
    for (const field of ['connected', 'status', 'error', 'transport', 'gap'] as const) {
      expect(isRef(fromVue.live[field])).toBe(true);
      expect(fromVue.live[field].value).toEqual(fromReact.live[field]);
    }
    for (const hook of ['realtime', 'channel'] as const) {
      for (const field of ['error', 'gap'] as const) {
        expect(isRef(fromVue[hook][field])).toBe(true);
        expect(fromVue[hook][field].value).toEqual(fromReact[hook][field]);
      }
    }
    expect(isRef(fromVue.presence.error)).toBe(true);
    expect(isRef(fromVue.realtime.isConnected) && isRef(fromVue.realtime.connected)).toBe(true);
    expect(fromReact.realtime.isConnected).toBe(fromReact.realtime.connected);
    scope.stop();
  });

  it('useRealtime\'s isConnected is a deprecated alias of connected that never warns', () => {
    const scope = effectScope();
    const feed = scope.run(() => vue.useRealtime({ channel: 'feed', client }))!;
    FakeSocket.all = [];
    client.connect();
    FakeSocket.last().accept();
    expect(feed.connected.value).toBe(true);
    expect(feed.isConnected.value).toBe(true);
    scope.stop();
    expect(warn).not.toHaveBeenCalled();
  });

  it('Vue\'s deprecated client, close and onMessage still work and never warn', () => {
    const scope = effectScope();
    const live = scope.run(() => vue.useLiveUpdate(undefined, { client }))!;
    FakeSocket.all = [];
    client.connect();
    FakeSocket.last().accept();
    const got: unknown[] = [];
    live.onMessage('notice', (data) => got.push(data));
    FakeSocket.last().deliver({ type: 'notice', data: 1 });
    expect(got).toEqual([1]);
    expect(live.client).toBe(live.getClient());
    live.close();
    expect(client.status).toBe('closed');
    scope.stop();
    expect(warn).not.toHaveBeenCalled();
  });
});
