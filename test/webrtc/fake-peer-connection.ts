/**
 * A stand-in for `RTCPeerConnection` where there is none (Node, happy-dom), for the hooks' unit
 * tests: it answers the calls perfect negotiation makes (descriptions go through the real hub as
 * signals), records tracks and data channels, and lets a test fire what the browser would (a
 * connection state, a remote track, a data channel opening or a message). Real connections are
 * tested in Chromium (call.e2e.test.ts, hooks.e2e.test.ts).
 */
import type { PeerInfo } from '../../pkg/webrtc/names.js';

export class FakeDataChannel extends EventTarget {
  readyState: RTCDataChannelState = 'connecting';
  binaryType = 'blob';
  readonly sent: unknown[] = [];
  constructor(readonly label: string, readonly init: RTCDataChannelInit) {
    super();
  }

  send(data: unknown): void {
    if (this.readyState !== 'open') throw new Error('InvalidStateError: the channel is not open');
    this.sent.push(data);
  }

  /** As the browser: the channel opens (or closes). */
  become(state: RTCDataChannelState): void {
    this.readyState = state;
    this.dispatchEvent(new Event(state === 'open' ? 'open' : state === 'closing' ? 'closing' : 'close'));
  }

  /** As the browser: a message from the remote peer. */
  receive(data: unknown): void {
    this.dispatchEvent(new MessageEvent('message', { data }));
  }
}

/** A media stream with the tracks given (by id), firing `removetrack`. */
export class FakeStream extends EventTarget {
  constructor(readonly id: string, private tracks: FakeTrack[]) {
    super();
  }

  getTracks() {
    return [...this.tracks];
  }

  removeTrack(track: FakeTrack): void {
    this.tracks = this.tracks.filter((t) => t !== track);
    this.dispatchEvent(Object.assign(new Event('removetrack'), { track }));
  }
}

export interface FakeTrack { id: string; kind: 'audio' | 'video' }

interface Sender { track: FakeTrack | null }

export class FakePeerConnection extends EventTarget {
  connectionState: RTCPeerConnectionState = 'new';
  signalingState: RTCSignalingState = 'stable';
  localDescription: { type: RTCSdpType; sdp: string; toJSON(): RTCSessionDescriptionInit } | null = null;
  readonly channels: FakeDataChannel[] = [];
  readonly senders: Sender[] = [];
  readonly candidates: unknown[] = [];
  closed = false;

  constructor(readonly remote: PeerInfo, readonly config: RTCConfiguration) {
    super();
  }

  async setLocalDescription(): Promise<void> {
    const type: RTCSdpType = this.signalingState === 'have-remote-offer' ? 'answer' : 'offer';
    this.signalingState = type === 'offer' ? 'have-local-offer' : 'stable';
    const sdp = `v=0 fake ${type}`;
    this.localDescription = { type, sdp, toJSON: () => ({ type, sdp }) };
  }

  async setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    this.signalingState = description.type === 'offer' ? 'have-remote-offer' : 'stable';
  }

  async addIceCandidate(candidate?: RTCIceCandidateInit): Promise<void> {
    this.candidates.push(candidate ?? null);
  }

  restartIce(): void {}

  close(): void {
    this.closed = true;
    this.signalingState = 'closed';
    this.connectionState = 'closed';
  }

  createDataChannel(label: string, init: RTCDataChannelInit = {}): FakeDataChannel {
    const channel = new FakeDataChannel(label, init);
    this.channels.push(channel);
    return channel;
  }

  addTrack(track: FakeTrack): Sender {
    const sender = { track };
    this.senders.push(sender);
    return sender;
  }

  removeTrack(sender: Sender): void {
    sender.track = null;
  }

  getSenders(): Sender[] {
    return [...this.senders];
  }

  /** The tracks it sends now. */
  get sending(): string[] {
    return this.senders.flatMap((s) => (s.track ? [s.track.id] : []));
  }

  /** As the browser: the connection's state changes. */
  become(state: RTCPeerConnectionState): void {
    this.connectionState = state;
    this.dispatchEvent(new Event('connectionstatechange'));
  }

  /** As the browser: a remote track arrives in `stream`. */
  receiveTrack(track: FakeTrack, stream: FakeStream): void {
    this.dispatchEvent(Object.assign(new Event('track'), { track, streams: [stream] }));
  }
}

/** A `peerConnection` option making fakes, and the fakes it made. */
export function fakes() {
  const made: FakePeerConnection[] = [];
  return {
    made,
    peerConnection: (peer: PeerInfo, config: RTCConfiguration) => {
      const pc = new FakePeerConnection(peer, config);
      made.push(pc);
      return pc as unknown as RTCPeerConnection;
    },
  };
}

/** A stream of local tracks, as `getUserMedia` would give. */
export const localStream = (id: string, ...kinds: Array<'audio' | 'video'>) =>
  new FakeStream(id, kinds.map((kind) => ({ id: `${id}-${kind}`, kind }))) as unknown as MediaStream;
