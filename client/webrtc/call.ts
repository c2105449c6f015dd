/**
 * A call in a room, over a `LiveClient`: joins the room through the hub's signalling
 * (`webrtcSignalling` on the server), keeps one `RTCPeerConnection` per remote peer with perfect
 * negotiation, relays their signals through the hub, and follows the room: peers that join get a
 * connection, peers that leave (or whose node dies) are closed. After the client reconnects it joins
 * again under its new peer id and the connections are made anew.
 */
import { Emitter, type Listeners } from '../emitter.js';
import { LiveError } from '../errors.js';
import type { LiveClient } from '../live-client.js';
import type { HubMessage } from '../../pkg/protocol/index.js';
import { checkKnownOptions } from '../../pkg/options-check.js';
import { JOIN, JOINED, LEAVE, LEFT, peerChannel, roomChannel, ROOM_NAME, SIGNAL, type PeerInfo, type SignalMessage } from '../../pkg/webrtc/names.js';
import { Negotiation, type NegotiationSignal } from './negotiation.js';

/** A remote peer of the call. */
export interface CallPeer {
  /** Its peer id (its connection id on the hub). */
  readonly id: string;
  /** Its user, null when anonymous. */
  readonly user: string | null;
  /** Whether this side yields when both offer at once (decided from the two peer ids). */
  readonly polite: boolean;
  /** The connection to it, made by `peerConnection`. */
  readonly pc: RTCPeerConnection;
}

export interface CallEvents {
  /** A remote peer appeared: its connection is made; add tracks and data channels to it here. */
  peer: (peer: CallPeer) => void;
  /** A remote peer left the room (its connection is closed). */
  left: (peer: CallPeer) => void;
  /** Joined the room (again, after a reconnect): this side's peer id. */
  joined: (event: { peer: string }) => void;
  /** A signal could not be sent or applied, or joining again failed. */
  error: (error: Error) => void;
}

export interface CallOptions {
  /**
   * Makes the connection to a remote peer, given the ICE servers the hub answered (with a TURN
   * credential for a signed-in user). Default: `new RTCPeerConnection(config)`.
   */
  peerConnection?: (peer: PeerInfo, config: RTCConfiguration) => RTCPeerConnection;
  /**
   * Called for each remote peer as its connection is made (before the `peer` event), the peers
   * already in the room included: add tracks and data channels to `peer.pc` here.
   */
  onPeer?: (peer: CallPeer) => void;
}

interface JoinReply {
  peer: string;
  peers: PeerInfo[];
  iceServers: RTCIceServer[];
}

interface Entry { peer: CallPeer; negotiation: Negotiation }

export class Call {
  private readonly emitter = new Emitter<CallEvents>();
  /** `call.events.on('peer' | 'left' | 'joined' | 'error', listener)`: returns the function that stops it. */
  readonly events: Listeners<CallEvents> = this.emitter.view;
  private readonly entries = new Map<string, Entry>();
  private self = '';
  private iceServers: RTCIceServer[] = [];
  private left = false;
  /**
   * While a join is answered: the room's messages that came before the answer (a signal from a peer
   * that heard of this one first, a peer joining or leaving), applied once this side's peer id is known.
   */
  private early: HubMessage[] | null = null;
  private readonly offs: Array<() => void> = [];
  /** The last error (a refused signal, a failed negotiation), or null. */
  lastError: Error | null = null;

  constructor(private readonly client: LiveClient, readonly room: string, private readonly options: CallOptions) {
    this.offs.push(client.events.on('message', (message) => this.onMessage(message)));
    this.offs.push(client.events.on('open', () => { if (this.self !== '' && !this.left) void this.rejoin(); }));
  }

  /** This side's peer id ('' before joining). */
  get id(): string {
    return this.self;
  }

  /** The remote peers, by peer id. */
  get peers(): ReadonlyMap<string, CallPeer> {
    return new Map([...this.entries].map(([id, entry]) => [id, entry.peer]));
  }

  /** Joins the room; resolves once in it with the peers there connected to (or rejects with the hub's code). */
  async join(): Promise<void> {
    this.early = [];
    let answer: JoinReply;
    try {
      answer = await this.client.request<JoinReply>(JOIN, { room: this.room });
    } catch (error) {
      this.early = null;
      throw error;
    }
    const early = this.early ?? [];
    this.early = null;
    this.self = answer.peer;
    this.iceServers = answer.iceServers;
    this.emitter.emit('joined', { peer: answer.peer });
    for (const info of answer.peers) this.add(info);
    // After the peers of the answer: these messages are as new as it or newer.
    for (const message of early) this.onMessage(message);
  }

  /** Leaves the room and closes every connection of the call. */
  async leave(): Promise<void> {
    if (this.left) return;
    this.left = true;
    for (const off of this.offs.splice(0)) off();
    for (const id of [...this.entries.keys()]) this.remove(id, false);
    if (this.client.status === 'open') await this.client.request(LEAVE, { room: this.room }).catch(() => {});
  }

  private async rejoin(): Promise<void> {
    for (const id of [...this.entries.keys()]) this.remove(id, true);
    try {
      await this.join();
    } catch (error) {
      this.report(error as Error);
    }
  }

  private add(info: PeerInfo): Entry | undefined {
    if (this.left || info.peer === this.self) return undefined;
    const known = this.entries.get(info.peer);
    if (known) return known;
    const config: RTCConfiguration = { iceServers: this.iceServers };
    const pc = this.options.peerConnection ? this.options.peerConnection(info, config) : new RTCPeerConnection(config);
    const peer: CallPeer = { id: info.peer, user: info.user, polite: this.self < info.peer, pc };
    const negotiation = new Negotiation(pc, peer.polite, (signal) => this.signal(info.peer, signal), (error) => this.report(error));
    const entry = { peer, negotiation };
    this.entries.set(info.peer, entry);
    this.options.onPeer?.(peer);
    this.emitter.emit('peer', peer);
    negotiation.start();
    return entry;
  }

  private remove(id: string, announce: boolean): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    entry.negotiation.close();
    if (announce) this.emitter.emit('left', entry.peer);
  }

  private signal(to: string, data: NegotiationSignal): void {
    if (this.left || this.client.status !== 'open') return;
    this.client.request(SIGNAL, { room: this.room, to, data }).catch((error: Error) => {
      // A peer that left meanwhile is refused as outside the room: not worth an error.
      if (this.entries.has(to)) this.report(error);
    });
  }

  private report(error: Error): void {
    this.lastError = error;
    this.emitter.emit('error', error);
  }

  private onMessage(message: HubMessage): void {
    if (this.early) {
      const channel = message.channel ?? '';
      if (channel === roomChannel(this.room) || channel.startsWith(peerChannel(this.room, ''))) this.early.push(message);
      return;
    }
    if (this.self === '') return;
    if (message.channel === peerChannel(this.room, this.self) && message.type === SIGNAL) {
      const { from, data } = message.data as SignalMessage<NegotiationSignal>;
      // A signal from a peer not heard of yet (its join crossed this one) proves it is in the room.
      const entry = this.entries.get(from) ?? this.add({ peer: from, user: message.from?.user ?? null });
      entry?.negotiation.receive(data);
    } else if (message.channel === roomChannel(this.room)) {
      const data = message.data as { peer?: string; user?: string | null; userId?: string };
      if (message.type === JOINED && typeof data.peer === 'string') this.add({ peer: data.peer, user: data.user ?? null });
      else if (message.type === LEFT && typeof data.peer === 'string') this.remove(data.peer, true);
      // The room's presence: a user's last connection left (or its node died).
      else if (message.type === 'leave' && typeof data.userId === 'string') {
        for (const [id, { peer }] of this.entries) if (peer.user === data.userId || `anonymous:${id}` === data.userId) this.remove(id, true);
      }
    }
  }
}

/**
 * Joins `room` for a call and resolves with it once in; rejects with a LiveError carrying the hub's
 * code (`forbidden`: not allowed or full, `not_connected`…). The peers already in the room are
 * added as the join answers, so give `onPeer` to add tracks and data channels to every one. Throws
 * a TypeError for a bad room name or an unknown option.
 */
export function joinCall(client: LiveClient, room: string, options: CallOptions = {}): Promise<Call> {
  if (typeof room !== 'string' || !ROOM_NAME.test(room)) throw new TypeError('livehub: a call room name is 1-64 characters of A-Z a-z 0-9 _ - . @ = + , ! ~');
  checkKnownOptions(options, ['peerConnection', 'onPeer'], 'joinCall()');
  const call = new Call(client, room, options);
  return call.join().then(() => call, (error: unknown) => {
    void call.leave();
    throw error instanceof Error ? error : new LiveError('internal', String(error));
  });
}
