/**
 * A call as state, for the Vue and React bindings (livehub/webrtc/vue, livehub/webrtc/react): the
 * room to be in and the client to use go in, one snapshot comes out (`status`, this side's
 * `peerId`, each remote peer with its connection state, its media streams and its data channel, and
 * the last `error`), a new object on every change. It joins once the client is open, waits for a
 * previous call of the same connection to have left before joining again, sends the local stream's
 * tracks to every peer, and opens one data channel with each.
 */
import { checkKnownOptions } from '../../pkg/options-check.js';
import { ROOM_NAME } from '../../pkg/webrtc/names.js';
import { ValueStore, type ReadableStore } from '../core/store.js';
import { LiveError } from '../errors.js';
import type { LiveClient } from '../live-client.js';
import { joinCall, type Call, type CallOptions, type CallPeer } from './call.js';

/** `idle`: not in a call (no room, not asked, or left); `joining`: waiting for the connection or the hub's answer; `failed`: refused (see `error`). */
export type CallStatus = 'idle' | 'joining' | 'joined' | 'failed';

/** A remote peer of the call as the bindings show it: a new object whenever any field changes. */
export interface CallPeerState {
  /** Its peer id (its connection id on the hub). */
  readonly id: string;
  /** Its user, null when anonymous. */
  readonly user: string | null;
  /** Whether this side yields when both offer at once. */
  readonly polite: boolean;
  /** The connection to it. */
  readonly pc: RTCPeerConnection;
  /** The connection's state: `new`, `connecting`, `connected`, `disconnected`, `failed` or `closed`. */
  readonly state: RTCPeerConnectionState;
  /** The media streams it sends, in the order their first track arrived (a stream leaves once it has no track). */
  readonly streams: readonly MediaStream[];
  /** The data channel with it (null with `dataChannel: false`). */
  readonly channel: RTCDataChannel | null;
  /** The data channel's state (`connecting`, `open`, `closing`, `closed`), null without one. */
  readonly channelState: RTCDataChannelState | null;
}

/** The state of a call hook. */
export interface CallState {
  readonly status: CallStatus;
  /** This side's peer id in the room ('' while not in it). */
  readonly peerId: string;
  /** The remote peers, in the order they appeared. */
  readonly peers: readonly CallPeerState[];
  /** Why joining failed, or the last signal that could not be sent or applied; null after a join. */
  readonly error: Error | null;
}

/** The actions of a call hook. */
export interface CallActions {
  /** Joins the room (again, after `leave()` or a refusal); nothing while in it or joining. */
  join(): void;
  /** Leaves the call and closes every connection; resolves once the hub has been told. */
  leave(): Promise<void>;
  /** Sends `data` on every open data channel; returns to how many peers it went. */
  send(data: string | ArrayBuffer | ArrayBufferView<ArrayBuffer> | Blob): number;
  /** The underlying call (null while not in one), for what the hooks do not cover. */
  getCall(): Call | null;
}

/** What the bindings take besides the room and the client (their options, less `client` and `immediate`). */
export interface CallSettings {
  /** Called with each message on a peer's data channel. */
  onMessage?: (data: unknown, peer: CallPeerState) => void;
  /** See `CallOptions.peerConnection`. */
  peerConnection?: CallOptions['peerConnection'];
  /** See `CallOptions.onPeer`: called after the stream's tracks and the data channel were added. */
  onPeer?: CallOptions['onPeer'];
}

const OPTIONS = ['client', 'stream', 'dataChannel', 'onMessage', 'immediate', 'peerConnection', 'onPeer'];

/** The checks both bindings make at once: a TypeError for a bad room or option. */
export function checkCallArguments(room: unknown, options: object, where: string): void {
  checkKnownOptions(options, OPTIONS, where);
  if (room !== null && room !== undefined && (typeof room !== 'string' || !ROOM_NAME.test(room))) {
    throw new TypeError(`livehub: ${where}: a call room name is 1-64 characters of A-Z a-z 0-9 _ - . @ = + , ! ~, got ${JSON.stringify(room)}`);
  }
  const { dataChannel } = options as { dataChannel?: unknown };
  if (dataChannel !== undefined && dataChannel !== false && (typeof dataChannel !== 'string' || dataChannel.length === 0)) {
    throw new TypeError(`livehub: ${where}: dataChannel is a non-empty label or false, got ${JSON.stringify(dataChannel)}`);
  }
}

/** The codes of a join that may succeed once the connection is back. */
const RETRYABLE = new Set(['not_connected', 'connection_lost', 'timeout']);
const IDLE: CallState = Object.freeze({ status: 'idle', peerId: '', peers: Object.freeze([]) as readonly CallPeerState[], error: null });

interface Tracked {
  state: CallPeerState;
  stop: () => void;
}

export class CallSession implements ReadableStore<CallState> {
  private readonly store = new ValueStore<CallState>(IDLE);
  readonly subscribe = this.store.subscribe;
  readonly getSnapshot = this.store.getSnapshot;
  private client: LiveClient | null = null;
  private room: string | null = null;
  private call: Call | null = null;
  /** Bumped whenever the wanted call changes: an answer for an older one is left at once. */
  private generation = 0;
  private joining = false;
  /** Done once the calls this session left have told the hub (a join of the same connection waits for it). */
  private settled: Promise<void> = Promise.resolve();
  private stream: MediaStream | null = null;
  private readonly tracked = new Map<string, Tracked>();
  private readonly offs: Array<() => void> = [];

  /**
   * `dataChannel`: the label of the channel opened with each peer (negotiated, id 0, so both sides
   * make the same one without an offer crossing), or false for none.
   */
  constructor(public settings: CallSettings, private readonly dataChannel: string | false, private wanted: boolean) {}

  /** Moves the session to `client` and `room` (null: none): leaves the call it was in, and joins the new one when wanted. */
  use(client: LiveClient | null, room: string | null): void {
    if (client === this.client && room === this.room) return;
    void this.end();
    this.client = client;
    this.room = room;
    this.sync();
  }

  readonly join = (): void => {
    this.wanted = true;
    this.sync();
  };

  readonly leave = (): Promise<void> => {
    this.wanted = false;
    return this.end();
  };

  readonly send = (data: string | ArrayBuffer | ArrayBufferView<ArrayBuffer> | Blob): number => {
    let sent = 0;
    for (const { state } of this.tracked.values()) {
      if (state.channel?.readyState !== 'open') continue;
      state.channel.send(data as string);
      sent++;
    }
    return sent;
  };

  readonly getCall = (): Call | null => this.call;

  /** Sends `stream`'s tracks to every peer instead of the previous stream's (each connection negotiates again). */
  setStream(stream: MediaStream | null): void {
    if (stream === this.stream) return;
    const old = new Set(this.stream?.getTracks() ?? []);
    this.stream = stream;
    for (const { state: { pc } } of this.tracked.values()) {
      if (pc.signalingState === 'closed') continue;
      for (const sender of pc.getSenders()) if (sender.track && old.has(sender.track)) pc.removeTrack(sender);
      if (stream) for (const track of stream.getTracks()) pc.addTrack(track, stream);
    }
  }

  /** Leaves for good (the component or scope ended). */
  dispose(): void {
    this.wanted = false;
    void this.end();
  }

  private set(change: Partial<CallState>): void {
    const peers = change.peers ?? [...this.tracked.values()].map((t) => t.state);
    this.store.set(Object.freeze({ ...this.store.getSnapshot(), ...change, peers }));
  }

  private sync(): void {
    const { client, room } = this;
    if (!this.wanted || !client || room === null || this.call || this.joining) return;
    const generation = this.generation;
    this.joining = true;
    this.set({ status: 'joining', error: null });
    // joinCall refuses a bad room name at once (a TypeError): shown as a failed join, like a refusal.
    const failed = (error: unknown) => {
      if (generation !== this.generation) return;
      this.joining = false;
      this.set({ status: 'failed', error: error as Error });
    };
    const attempt = async (): Promise<void> => {
      await this.settled;
      if (generation !== this.generation) return;
      if (client.status !== 'open') {
        // Joined on the next open (a connection that never opens keeps the call `joining`).
        const off = client.events.on('open', () => { off(); attempt().catch(failed); });
        this.offs.push(off);
        return;
      }
      let call: Call;
      try {
        call = await joinCall(client, room, { peerConnection: this.settings.peerConnection, onPeer: (peer) => this.track(peer, generation) });
      } catch (error) {
        if (generation !== this.generation) return;
        if (error instanceof LiveError && RETRYABLE.has(error.code)) return attempt();
        return failed(error);
      }
      if (generation !== this.generation) {
        this.settled = this.settled.then(() => call.leave());
        return;
      }
      this.joining = false;
      this.call = call;
      this.offs.push(
        call.events.on('left', (peer) => this.untrack(peer.id)),
        call.events.on('joined', ({ peer }) => this.set({ peerId: peer })),
        call.events.on('error', (error) => this.set({ error })),
      );
      this.set({ status: 'joined', peerId: call.id });
    };
    attempt().catch(failed);
  }

  private end(): Promise<void> {
    this.generation++;
    this.joining = false;
    for (const off of this.offs.splice(0)) off();
    for (const { stop } of this.tracked.values()) stop();
    this.tracked.clear();
    const call = this.call;
    this.call = null;
    if (call) this.settled = this.settled.then(() => call.leave());
    this.set({ ...IDLE });
    return this.settled;
  }

  private untrack(id: string): void {
    const entry = this.tracked.get(id);
    if (!entry) return;
    entry.stop();
    this.tracked.delete(id);
    this.set({});
  }

  /** A new peer: the local tracks and the data channel go on its connection, and its changes show in the state. */
  private track(peer: CallPeer, generation: number): void {
    if (generation !== this.generation) return;
    const { pc } = peer;
    if (this.stream) for (const track of this.stream.getTracks()) pc.addTrack(track, this.stream);
    const channel = this.dataChannel === false ? null : pc.createDataChannel(this.dataChannel, { negotiated: true, id: 0 });
    if (channel) channel.binaryType = 'arraybuffer';
    const entry: Tracked = {
      state: Object.freeze({
        id: peer.id, user: peer.user, polite: peer.polite, pc, state: pc.connectionState,
        streams: Object.freeze([]) as readonly MediaStream[], channel, channelState: channel?.readyState ?? null,
      }),
      stop: () => {},
    };
    const update = (change: Partial<CallPeerState>) => {
      if (this.tracked.get(peer.id) !== entry) return;
      entry.state = Object.freeze({ ...entry.state, ...change });
      this.set({});
    };
    const dropEmpty = (stream: MediaStream) => () => {
      if (stream.getTracks().length === 0) update({ streams: Object.freeze(entry.state.streams.filter((s) => s !== stream)) });
    };
    const onTrack = ({ track, streams }: RTCTrackEvent) => {
      const stream = streams[0] ?? new MediaStream([track]);
      if (entry.state.streams.includes(stream)) return;
      stream.addEventListener('removetrack', dropEmpty(stream));
      update({ streams: Object.freeze([...entry.state.streams, stream]) });
    };
    const onState = () => update({ state: pc.connectionState });
    const onChannel = () => update({ channelState: channel!.readyState });
    const onMessage = ({ data }: MessageEvent) => { this.settings.onMessage?.(data, entry.state); };
    pc.addEventListener('track', onTrack);
    pc.addEventListener('connectionstatechange', onState);
    for (const type of ['open', 'closing', 'close'] as const) channel?.addEventListener(type, onChannel);
    channel?.addEventListener('message', onMessage);
    entry.stop = () => {
      pc.removeEventListener('track', onTrack);
      pc.removeEventListener('connectionstatechange', onState);
      for (const type of ['open', 'closing', 'close'] as const) channel?.removeEventListener(type, onChannel);
      channel?.removeEventListener('message', onMessage);
    };
    this.tracked.set(peer.id, entry);
    this.set({});
    this.settings.onPeer?.(peer);
  }
}
