import { useEffect, useLayoutEffect, useMemo, useState, useSyncExternalStore } from 'react';
import type { ReactShape } from '../core/shapes.js';
import type { LiveClient } from '../live-client.js';
import { useClientRef } from '../react/provider.js';
import type { CallOptions } from './call.js';
import { CallSession, checkCallArguments, type CallActions, type CallPeerState, type CallState, type CallStatus } from './session.js';

/**
 * livehub/webrtc/react: a call in a room as a hook, over `joinCall` (livehub/webrtc/client). It
 * joins after mount (nothing on a server render) and leaves on unmount; a StrictMode remount leaves
 * and joins again, in that order.
 */

export interface UseCallOptions {
  /**
   * The client whose connection signals the call.
   * @default the client of the `<LivehubProvider>` above
   */
  client?: LiveClient;
  /**
   * The local media sent to every peer (e.g. from `getUserMedia`); a new stream's tracks replace
   * the old ones on every connection.
   * @default null: send nothing, receive only
   */
  stream?: MediaStream | null;
  /**
   * The label of the data channel opened with every peer (negotiated with id 0 on both sides, so
   * each pair has exactly one), or false for none. Read once.
   * @default 'chat'
   */
  dataChannel?: string | false;
  /**
   * Called with each message on a peer's data channel, and that peer; may change on every render.
   * @default none
   */
  onMessage?: (data: unknown, peer: CallPeerState) => void;
  /**
   * Join as soon as there is a room and the connection is open; false: wait for `join()`. Read once.
   * @default true
   */
  immediate?: boolean;
  /**
   * Makes each peer's connection from the ICE servers the hub answered (e.g. to add
   * `iceTransportPolicy: 'relay'`); may change on every render.
   * @default `new RTCPeerConnection(config)`
   */
  peerConnection?: CallOptions['peerConnection'];
  /**
   * Called for each peer once its connection has the stream's tracks and the data channel: add
   * more here; may change on every render.
   * @default none
   */
  onPeer?: CallOptions['onPeer'];
}

/** `useCall()`: the call's state as plain values (`status`, `peerId`, `peers`, `error`), and its actions. */
export type UseCallReturn = ReactShape<CallState, CallActions>;

/**
 * `const { peers, send } = useCall('standup', { stream })`: joins `room` (null: no call; a new name
 * leaves the old room and joins the new one) once the connection is open, keeps one connection per
 * peer with its state, streams and data channel in `peers`, and leaves on unmount.
 */
export function useCall(room: string | null | undefined, options: UseCallOptions = {}): UseCallReturn {
  checkCallArguments(room, options, 'useCall()');
  const ref = useClientRef(options.client, 'useCall');
  const { onMessage, peerConnection, onPeer } = options;
  const [session] = useState(() => new CallSession({}, options.dataChannel ?? 'chat', options.immediate ?? true));
  useLayoutEffect(() => { session.settings = { onMessage, peerConnection, onPeer }; });
  const stream = options.stream ?? null;
  useEffect(() => session.setStream(stream), [session, stream]);
  useEffect(() => {
    session.use(ref.get(), room ?? null);
    return () => session.use(null, null);
  }, [session, ref, room]);
  const state = useSyncExternalStore(session.subscribe, session.getSnapshot, session.getSnapshot);
  return useMemo(() => ({ ...state, join: session.join, leave: session.leave, send: session.send, getCall: session.getCall }), [state, session]);
}

export type { CallActions, CallPeerState, CallState, CallStatus };
