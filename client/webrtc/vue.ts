import { computed, shallowRef, toValue, watch, type MaybeRefOrGetter } from '@vue/runtime-core';
import type { LiveClient } from '../live-client.js';
import type { VueShape } from '../vue.js';
import { onEnd, requireClient } from '../vue-context.js';
import type { CallOptions } from './call.js';
import { CallSession, checkCallArguments, type CallActions, type CallPeerState, type CallState, type CallStatus } from './session.js';

/**
 * livehub/webrtc/vue: a call in a room as a composable, over `joinCall` (livehub/webrtc/client).
 * It works in a component's setup or any `effectScope()`, and leaves the call when the scope ends.
 */

export interface UseCallOptions {
  /**
   * The client whose connection signals the call.
   * @default the client provided by `app.use(createLivehub(...))`
   */
  client?: LiveClient;
  /**
   * The local media sent to every peer (e.g. from `getUserMedia`). A ref or getter may change: the
   * new stream's tracks replace the old ones on every connection.
   * @default null: send nothing, receive only
   */
  stream?: MaybeRefOrGetter<MediaStream | null | undefined>;
  /**
   * The label of the data channel opened with every peer (negotiated with id 0 on both sides, so
   * each pair has exactly one), or false for none.
   * @default 'chat'
   */
  dataChannel?: string | false;
  /**
   * Called with each message on a peer's data channel, and that peer.
   * @default none
   */
  onMessage?: (data: unknown, peer: CallPeerState) => void;
  /**
   * Join as soon as there is a room and the connection is open; false: wait for `join()`.
   * @default true
   */
  immediate?: boolean;
  /**
   * Makes each peer's connection from the ICE servers the hub answered (e.g. to add
   * `iceTransportPolicy: 'relay'`).
   * @default `new RTCPeerConnection(config)`
   */
  peerConnection?: CallOptions['peerConnection'];
  /**
   * Called for each peer once its connection has the stream's tracks and the data channel: add
   * more here.
   * @default none
   */
  onPeer?: CallOptions['onPeer'];
}

/** `useCall()`: the call's state as read-only refs (`status`, `peerId`, `peers`, `error`), and its actions. */
export type UseCallReturn = VueShape<CallState, CallActions>;

/**
 * `const { peers, send } = useCall('standup', { stream })`: joins `room` (a ref or getter may change
 * it; null: no call) once the connection is open, keeps one connection per peer with its state,
 * streams and data channel in `peers`, and leaves when the scope ends.
 */
export function useCall(room: MaybeRefOrGetter<string | null | undefined>, options: UseCallOptions = {}): UseCallReturn {
  checkCallArguments(toValue(room), options, 'useCall()');
  const client = requireClient(options.client, 'useCall');
  const { onMessage, peerConnection, onPeer } = options;
  const session = new CallSession({ onMessage, peerConnection, onPeer }, options.dataChannel ?? 'chat', options.immediate ?? true);
  const state = shallowRef(session.getSnapshot());
  onEnd(session.subscribe(() => { state.value = session.getSnapshot(); }));
  const stopStream = watch(() => toValue(options.stream) ?? null, (stream) => session.setStream(stream), { immediate: true });
  const stopRoom = watch(() => toValue(room) ?? null, (name) => session.use(client, name), { immediate: true });
  onEnd(() => {
    stopStream();
    stopRoom();
    session.dispose();
  });
  return {
    status: computed((): CallStatus => state.value.status),
    peerId: computed(() => state.value.peerId),
    peers: computed(() => state.value.peers),
    error: computed(() => state.value.error),
    join: session.join,
    leave: session.leave,
    send: session.send,
    getCall: session.getCall,
  };
}

export type { CallActions, CallPeerState, CallState, CallStatus };
