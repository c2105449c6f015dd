// @vitest-environment happy-dom
import { act, cleanup as unmountAll, renderHook } from '@testing-library/react';
import { createElement, StrictMode, type ReactNode } from 'react';
import { effectScope, type Ref } from '@vue/runtime-core';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { LiveClient } from '../../client/index.js';
import { LivehubProvider } from '../../client/react/index.js';
import { useCall, type UseCallOptions, type UseCallReturn } from '../../client/webrtc/react.js';
import * as vue from '../../client/webrtc/vue.js';
import { webrtcSignalling } from '../../pkg/webrtc/index.js';
import { countingWebSocket } from '../client/react-helpers.js';
import { perTest } from '../helpers.js';
import { fakes, localStream, type FakePeerConnection, type FakeStream } from './fake-peer-connection.js';
import { byQuery } from './peers.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
const { start } = perTest();
afterEach(() => unmountAll());

async function hub() {
  const s = await start({ authenticate: byQuery, logger: false });
  return { ...s, signalling: webrtcSignalling(s.hub) };
}

/** `useCall` under a StrictMode provider for `user`, with fake peer connections; counts the frames sent. */
function renderCall(url: string, user: string, room: string | null, options: UseCallOptions = {}) {
  const counting = countingWebSocket();
  const made = fakes();
  const wrapper = ({ children }: { children?: ReactNode }) =>
    createElement(StrictMode, null, createElement(LivehubProvider, { url: `${url}?user=${user}`, options: { WebSocket: counting.WebSocket } }, children));
  const view = renderHook((props: { room: string | null; options: UseCallOptions }) => useCall(props.room, { peerConnection: made.peerConnection, ...props.options }), {
    wrapper, initialProps: { room, options },
  });
  return { ...view, made, ...counting };
}

const fake = (pc: RTCPeerConnection) => pc as unknown as FakePeerConnection;

describe('useCall (React)', () => {
  it('is in the room once under StrictMode\'s double mount, and lists the other peer with its state and streams', async () => {
    const { url, signalling } = await hub();
    const ann = renderCall(url, 'ann', 'standup');
    await expect.poll(() => ann.result.current.status).toBe('joined');
    const bob = renderCall(url, 'bob', 'standup');
    await expect.poll(() => ann.result.current.peers.map((p) => p.user)).toEqual(['bob']);
    await expect.poll(() => bob.result.current.peers.map((p) => p.user)).toEqual(['ann']);
    expect((await signalling.peers('standup')).map((p) => p.user).sort()).toEqual(['ann', 'bob']);
    // The remount left before it joined again: the last word on the room is a join.
    expect(ann.frames('webrtc:join').length - ann.frames('webrtc:leave').length).toBe(1);
    expect(ann.sent.filter((f) => f.type === 'webrtc:join' || f.type === 'webrtc:leave').at(-1)?.type).toBe('webrtc:join');

    const peer = ann.result.current.peers[0]!;
    act(() => fake(peer.pc).become('connected'));
    expect(ann.result.current.peers[0]!.state).toBe('connected');
    const remote = localStream('bob-camera', 'video') as unknown as FakeStream;
    act(() => fake(peer.pc).receiveTrack(remote.getTracks()[0]!, remote));
    expect(ann.result.current.peers[0]!.streams).toEqual([remote]);
  });

  it('calls the latest onMessage, sends on open channels, and leaves the room on unmount', async () => {
    const { url, signalling } = await hub();
    const got: string[] = [];
    const ann = renderCall(url, 'ann', 'chat', { onMessage: () => got.push('first') });
    const bob = renderCall(url, 'bob', 'chat');
    await expect.poll(() => ann.result.current.peers).toHaveLength(1);
    ann.rerender({ room: 'chat', options: { onMessage: (data) => got.push(`latest ${String(data)}`) } });
    const channel = fake(ann.result.current.peers[0]!.pc).channels.at(-1)!;
    act(() => channel.become('open'));
    expect(ann.result.current.peers[0]!.channelState).toBe('open');
    expect(ann.result.current.send('hi')).toBe(1);
    expect(channel.sent).toEqual(['hi']);
    act(() => channel.receive('hello'));
    expect(got).toEqual(['latest hello']);
    bob.unmount();
    await expect.poll(() => signalling.peers('chat')).toHaveLength(1);
    await expect.poll(() => ann.result.current.peers).toEqual([]);
  });

  it('moves to a new room when the room changes, and sends the new stream\'s tracks', async () => {
    const { url, signalling } = await hub();
    const camera = localStream('camera', 'video');
    const ann = renderCall(url, 'ann', 'one', { stream: camera });
    renderCall(url, 'bob', 'two');
    await expect.poll(() => signalling.peers('one')).toHaveLength(1);
    ann.rerender({ room: 'two', options: { stream: camera } });
    await expect.poll(() => ann.result.current.peers.map((p) => p.user)).toEqual(['bob']);
    expect(await signalling.peers('one')).toEqual([]);
    const pc = fake(ann.result.current.peers[0]!.pc);
    expect(pc.sending).toEqual(['camera-video']);
    ann.rerender({ room: 'two', options: { stream: localStream('screen', 'video') } });
    await expect.poll(() => pc.sending).toEqual(['screen-video']);
  });

  it('returns the same fields as the Vue composable (Vue as refs, React as values)', () => {
    type Unwrapped<S> = { [K in keyof S]: S[K] extends Readonly<Ref<infer V>> ? V : S[K] };
    expectTypeOf<Unwrapped<vue.UseCallReturn>>().toEqualTypeOf<Unwrapped<UseCallReturn>>();
    const client = new LiveClient('ws://127.0.0.1:1/ws', { autoConnect: false });
    const fromVue = effectScope().run(() => vue.useCall(null, { client }))!;
    const fromReact = renderHook(() => useCall(null, { client })).result.current;
    expect(Object.keys(fromReact).sort()).toEqual(Object.keys(fromVue).sort());
    expect(fromReact).toMatchObject({ status: 'idle', peerId: '', peers: [], error: null });
    client.dispose();
  });

  it('throws a TypeError for a bad room name or an unknown option', () => {
    expect(() => renderHook(() => useCall('a room', {}))).toThrow(/call room name/);
    expect(() => renderHook(() => useCall('r', { imediate: false } as never))).toThrow(/unknown option 'imediate'.*'immediate'/);
  });
});
