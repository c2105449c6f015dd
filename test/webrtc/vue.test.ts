import { effectScope, ref, shallowRef } from '@vue/runtime-core';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient } from '../../client/index.js';
import { useCall, type UseCallOptions } from '../../client/webrtc/vue.js';
import { webrtcSignalling } from '../../pkg/webrtc/index.js';
import { perTest } from '../helpers.js';
import { fakes, localStream, type FakePeerConnection, type FakeStream } from './fake-peer-connection.js';
import { byQuery } from './peers.js';

const { start, cleanup } = perTest();

async function hub(options: Parameters<typeof webrtcSignalling>[1] = {}) {
  const s = await start({ authenticate: byQuery, logger: false });
  return { ...s, signalling: webrtcSignalling(s.hub, options) };
}

/** `useCall(room)` in its own scope, for `user` on its own connection, with fake peer connections. */
function callAs(url: string, user: string, room: Parameters<typeof useCall>[0], options: UseCallOptions = {}) {
  const client = new LiveClient(`${url}?user=${user}`, { WebSocket });
  cleanup(async () => client.dispose());
  const made = fakes();
  const scope = effectScope();
  const call = scope.run(() => useCall(room, { client, peerConnection: made.peerConnection, ...options }))!;
  cleanup(async () => scope.stop());
  return { call, scope, client, made };
}

const fake = (pc: RTCPeerConnection) => pc as unknown as FakePeerConnection;

describe('useCall (Vue)', () => {
  it('joins once the connection opens and lists each peer with its connection state, streams and data channel, kept current', async () => {
    const { url } = await hub();
    const ann = callAs(url, 'ann', 'standup');
    expect(ann.call.status.value).toBe('joining');
    await expect.poll(() => ann.call.status.value).toBe('joined');
    expect(ann.call.peerId.value).toMatch(/.+/);
    const bob = callAs(url, 'bob', 'standup');
    await expect.poll(() => ann.call.peers.value.map((p) => p.user)).toEqual(['bob']);
    await expect.poll(() => bob.call.peers.value.map((p) => p.id)).toEqual([ann.call.peerId.value]);

    const seen = ann.call.peers.value[0]!;
    expect(seen).toMatchObject({ id: bob.call.peerId.value, state: 'new', streams: [], channelState: 'connecting' });
    expect(seen.channel).toMatchObject({ label: 'chat', init: { negotiated: true, id: 0 } });
    fake(seen.pc).become('connected');
    expect(ann.call.peers.value[0]!.state).toBe('connected');
    const remote = localStream('bob-camera', 'video') as unknown as FakeStream;
    fake(seen.pc).receiveTrack(remote.getTracks()[0]!, remote);
    expect(ann.call.peers.value[0]!.streams).toEqual([remote]);
    remote.removeTrack(remote.getTracks()[0]!);
    expect(ann.call.peers.value[0]!.streams).toEqual([]);
    expect(ann.call.peers.value[0]).not.toBe(seen); // a new object on each change
  });

  it('sends on every open data channel and hands each message to onMessage with its peer', async () => {
    const { url } = await hub();
    const messages: Array<[unknown, string | null]> = [];
    const ann = callAs(url, 'ann', 'talk', { onMessage: (data, peer) => messages.push([data, peer.user]) });
    await expect.poll(() => ann.call.status.value).toBe('joined');
    callAs(url, 'bob', 'talk');
    callAs(url, 'cid', 'talk');
    await expect.poll(() => ann.call.peers.value).toHaveLength(2);
    expect(ann.call.send('nobody yet')).toBe(0);
    const [first, second] = ann.call.peers.value.map((p) => fake(p.pc).channels[0]!);
    first!.become('open');
    expect(ann.call.peers.value.map((p) => p.channelState)).toEqual(['open', 'connecting']);
    expect(ann.call.send('hello')).toBe(1);
    second!.become('open');
    expect(ann.call.send('both')).toBe(2);
    expect(first!.sent).toEqual(['hello', 'both']);
    expect(second!.sent).toEqual(['both']);
    second!.receive('hi ann');
    expect(messages).toEqual([['hi ann', ann.call.peers.value[1]!.user]]);
  });

  it('sends the stream\'s tracks to every peer and replaces them when the stream ref changes', async () => {
    const { url } = await hub();
    const stream = shallowRef<MediaStream | null>(localStream('front', 'audio', 'video'));
    const ann = callAs(url, 'ann', 'cams', { stream });
    await expect.poll(() => ann.call.status.value).toBe('joined');
    callAs(url, 'bob', 'cams');
    await expect.poll(() => ann.made.made).toHaveLength(1);
    const pc = ann.made.made[0]!;
    expect(pc.sending).toEqual(['front-audio', 'front-video']);
    stream.value = localStream('back', 'video');
    await expect.poll(() => pc.sending).toEqual(['back-video']);
    stream.value = null;
    await expect.poll(() => pc.sending).toEqual([]);
  });

  it('leaves the call when the scope ends: the hub drops the peer and the other side closes it', async () => {
    const { url, signalling } = await hub();
    const ann = callAs(url, 'ann', 'bye');
    const bob = callAs(url, 'bob', 'bye');
    await expect.poll(() => ann.call.peers.value).toHaveLength(1);
    await expect.poll(() => bob.call.peers.value).toHaveLength(1);
    const toBob = ann.made.made[0]!;
    bob.scope.stop();
    await expect.poll(() => signalling.peers('bye')).toEqual([{ peer: ann.call.peerId.value, user: 'ann' }]);
    await expect.poll(() => ann.call.peers.value).toEqual([]);
    expect(toBob.closed).toBe(true);
    expect(bob.client.status).toBe('open'); // the client was given: only the call ended
  });

  it('follows a room ref: a new name leaves the old room and joins the new one, null leaves, a bad name fails with a TypeError', async () => {
    const { url, signalling } = await hub();
    const room = ref<string | null>('one');
    const ann = callAs(url, 'ann', room);
    await expect.poll(() => signalling.peers('one')).toHaveLength(1);
    room.value = 'two';
    await expect.poll(async () => [(await signalling.peers('one')).length, (await signalling.peers('two')).length]).toEqual([0, 1]);
    await expect.poll(() => ann.call.status.value).toBe('joined');
    room.value = null;
    await expect.poll(() => signalling.peers('two')).toEqual([]);
    expect(ann.call.status.value).toBe('idle');
    room.value = 'not a room name';
    await expect.poll(() => ann.call.status.value).toBe('failed');
    expect(ann.call.error.value).toBeInstanceOf(TypeError);
    expect(ann.call.error.value?.message).toMatch(/call room name/);
  });

  it('waits for join() with immediate: false, and leave() then join() comes back under the same peer id', async () => {
    const { url, signalling } = await hub();
    const ann = callAs(url, 'ann', 'later', { immediate: false });
    await expect.poll(() => ann.client.status).toBe('open');
    callAs(url, 'bob', 'later');
    await expect.poll(() => signalling.peers('later')).toHaveLength(1); // bob, the sentinel: ann's join would have come first
    expect(ann.call.status.value).toBe('idle');
    ann.call.join();
    await expect.poll(() => ann.call.peers.value).toHaveLength(1);
    const id = ann.call.peerId.value;
    await ann.call.leave();
    expect(ann.call.status.value).toBe('idle');
    expect(ann.call.peers.value).toEqual([]);
    expect((await signalling.peers('later')).map((p) => p.user)).toEqual(['bob']);
    ann.call.join();
    await expect.poll(() => ann.call.status.value).toBe('joined');
    expect(ann.call.peerId.value).toBe(id);
    expect((await signalling.peers('later')).map((p) => p.user).sort()).toEqual(['ann', 'bob']);
  });

  it('shows a refused join as status failed with the hub\'s error', async () => {
    const { url } = await hub({ authorize: (room) => room !== 'secret' });
    const ann = callAs(url, 'ann', 'secret');
    await expect.poll(() => ann.call.status.value).toBe('failed');
    expect(ann.call.error.value).toMatchObject({ code: 'forbidden', message: expect.stringContaining('secret') });
  });

  it('throws a TypeError at once for a bad room name, an unknown option or a bad data channel label', async () => {
    const client = new LiveClient('ws://127.0.0.1:1/ws', { WebSocket, autoConnect: false });
    expect(() => effectScope().run(() => useCall('no spaces', { client }))).toThrow(/call room name/);
    expect(() => effectScope().run(() => useCall('r', { client, stream: null, datachannel: 'x' } as never))).toThrow(/unknown option 'datachannel'.*'dataChannel'/);
    expect(() => effectScope().run(() => useCall('r', { client, dataChannel: '' }))).toThrow(/dataChannel/);
    expect(() => effectScope().run(() => useCall('r'))).toThrow(/needs a client/);
  });
});
