/**
 * The names WebRTC signalling uses on the hub: its message types, and the channels that carry a
 * room's events and each peer's signals. Shared by the server part and the client part.
 *
 * A room is the presence channel `presence-webrtc:<room>` (who is in the call, on every node; the
 * `webrtc:joined` and `webrtc:left` events); each peer of a room also has its own presence channel
 * `presence-webrtc-peer:<room>:<peer id>`, where the signals sent to it arrive and whose presence
 * says, on every node, that the peer is still in the room.
 */

/** The request a page sends to join a room: `{ room }`, answered `{ peer, peers, iceServers }`. */
export const JOIN = 'webrtc:join';
/** The request a page sends to leave a room: `{ room }`. */
export const LEAVE = 'webrtc:leave';
/** The request a page sends to signal a peer: `{ room, to, data }`, answered once relayed. */
export const SIGNAL = 'webrtc:signal';
/** The request a page sends for ICE servers (with TURN credentials when configured): `{}`. */
export const ICE_SERVERS = 'webrtc:ice-servers';
/** A room event: a peer joined (`{ room, peer, user }`). */
export const JOINED = 'webrtc:joined';
/** A room event: a peer left (`{ room, peer }`). */
export const LEFT = 'webrtc:left';

/** The prefix of rooms' channels. */
export const ROOM_PREFIX = 'presence-webrtc:';
/** The prefix of peers' channels. */
export const PEER_PREFIX = 'presence-webrtc-peer:';

/** Room names: 1-64 of A-Z a-z 0-9 _ - . @ = + , ! ~ (no `:`, so a room's channels never collide). */
export const ROOM_NAME = /^[A-Za-z0-9_\-.@=+,!~]{1,64}$/;

export function roomChannel(room: string): string {
  return `${ROOM_PREFIX}${room}`;
}

export function peerChannel(room: string, peer: string): string {
  return `${PEER_PREFIX}${room}:${peer}`;
}

/** Whether `channel` is one of the channels signalling owns (clients may not subscribe or publish to them). */
export function isSignallingChannel(channel: string): boolean {
  return channel.startsWith(ROOM_PREFIX) || channel.startsWith(PEER_PREFIX);
}

/** A peer of a room: its connection id and its user (null when anonymous). */
export interface PeerInfo {
  peer: string;
  user: string | null;
}

/** What a peer gets on its channel for each signal sent to it. */
export interface SignalMessage<T = unknown> {
  room: string;
  /** The sending peer's connection id, stamped by the server. */
  from: string;
  data: T;
}
