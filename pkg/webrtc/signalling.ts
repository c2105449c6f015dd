/**
 * WebRTC signalling on the hub's public API: rooms of peers (presence-backed, on every node), each
 * peer addressed by its connection id; a signal is relayed only to a peer of the same room, with
 * `from` stamped by the server; `webrtc:joined` and `webrtc:left` tell the room; signals from one
 * peer to another arrive in the order they were sent; size and rate limits answer with a code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, HandlerError, type Hub, type InboundMessage, type MessageContext, type Middleware } from '../index.js';
import { takeTokens, TOKEN, type Bucket } from '../token-bucket.js';
import { iceAnswer, iceServersHandler, type IceAnswer, type IceServersHandlerOptions } from './ice.js';
import {
  ICE_SERVERS, isSignallingChannel, JOIN, JOINED, LEAVE, LEFT, peerChannel, ROOM_NAME, roomChannel, SIGNAL, type PeerInfo,
} from './names.js';
import { resolveSignallingOptions, type WebrtcSignallingOptions } from './options.js';
import { isPeerIn, roster, untilPresent } from './roster.js';

/** What a page gets when it joins a room: its peer id, the peers there, and its ICE servers. */
export interface JoinAnswer extends IceAnswer {
  room: string;
  /** This connection's peer id (its connection id): what the others address it by. */
  peer: string;
  /** The other peers in the room now. */
  peers: PeerInfo[];
}

/** Signalling on a hub (`webrtcSignalling(hub)`). */
export interface WebrtcSignalling {
  /** The peers of a room now, on every node. */
  peers(room: string): Promise<PeerInfo[]>;
  /** The ICE servers for a user (null: anonymous, who gets no TURN credential). */
  iceServers(userId: string | null): IceAnswer;
  /** An HTTP handler (GET) answering the ICE servers of the request's user as JSON. */
  iceServersHandler(options: IceServersHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void;
}

/** A connection of this node that is in rooms. */
interface Member {
  readonly rooms: Set<string>;
  readonly bucket: Bucket;
  /** The signals it sent, relayed one after the other so that each receiver gets them in order. */
  tail: Promise<unknown>;
}

const fail = (code: string, message: string) => new HandlerError(code, message);

function fields(message: InboundMessage, type: string): Record<string, unknown> {
  const data = message.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw fail(ErrorCode.BadRequest, `${type} takes an object, such as { "room": "lobby" }`);
  return data as Record<string, unknown>;
}

function roomOf(data: Record<string, unknown>, type: string): string {
  const { room } = data;
  if (typeof room !== 'string' || !ROOM_NAME.test(room)) {
    throw fail(ErrorCode.BadRequest, `${type}: "room" must be 1-64 characters of A-Z a-z 0-9 _ - . @ = + , ! ~`);
  }
  return room;
}

/**
 * Adds WebRTC signalling to `hub`: the requests `webrtc:join`, `webrtc:leave`, `webrtc:signal` and
 * `webrtc:ice-servers` (the client part, `livehub/webrtc/client`, sends them), and refuses clients'
 * own subscribes and publishes to the channels it owns. Call it once per hub, on every node.
 */
export function webrtcSignalling(hub: Hub, options: WebrtcSignallingOptions = {}): WebrtcSignalling {
  const resolved = resolveSignallingOptions(options);
  const members = new Map<string, Member>();
  const memberOf = (context: MessageContext): Member => {
    let member = members.get(context.id);
    if (!member) members.set(context.id, (member = { rooms: new Set(), bucket: { tokens: resolved.signalBurst * TOKEN, refilledAt: Date.now() }, tail: Promise.resolve() }));
    return member;
  };

  const guard: Middleware = async (message, _context, next) => {
    if (typeof message.channel === 'string' && isSignallingChannel(message.channel)) {
      throw fail(ErrorCode.Forbidden, `${message.channel} belongs to WebRTC signalling: join and leave rooms with webrtc:join and webrtc:leave`);
    }
    await next();
  };
  for (const type of ['subscribe', 'unsubscribe', 'publish']) hub.use(type, guard);

  hub.handle(JOIN, async (message, context, kit) => {
    const room = roomOf(fields(message, JOIN), JOIN);
    if (!(await resolved.authorize(room, context))) {
      throw fail(ErrorCode.Forbidden, `joining the call room "${room}" is not allowed (webrtcSignalling's authorize option)`);
    }
    const member = memberOf(context);
    if (!member.rooms.has(room)) {
      const before = await roster(hub, room);
      if (before.length >= resolved.maxPeers) {
        throw fail(ErrorCode.Forbidden, `the call room "${room}" is full: it holds ${resolved.maxPeers} peers (webrtcSignalling's maxPeers option)`);
      }
      member.rooms.add(room);
      await kit.join(peerChannel(room, context.id));
      await kit.join(roomChannel(room));
      try {
        await untilPresent(hub, room, context.id);
      } catch (error) {
        throw fail(ErrorCode.Unavailable, `joining "${room}" failed: ${(error as Error).message}; retry`);
      }
      await kit.publish(roomChannel(room), JOINED, { room, peer: context.id, user: context.userId }, { exceptSelf: true });
    }
    const peers = (await roster(hub, room)).filter((p) => p.peer !== context.id);
    return { room, peer: context.id, peers, ...iceAnswer(resolved.ice, context.userId) } satisfies JoinAnswer;
  });

  hub.handle(LEAVE, async (message, context, kit) => {
    const room = roomOf(fields(message, LEAVE), LEAVE);
    const member = members.get(context.id);
    if (!member?.rooms.delete(room)) return { room };
    if (member.rooms.size === 0) members.delete(context.id);
    await kit.leave(roomChannel(room));
    await kit.leave(peerChannel(room, context.id));
    await kit.publish(roomChannel(room), LEFT, { room, peer: context.id });
    return { room };
  });

  hub.handle(SIGNAL, (message, context, kit) => {
    const data = fields(message, SIGNAL);
    const room = roomOf(data, SIGNAL);
    const { to } = data;
    const member = members.get(context.id);
    if (!member?.rooms.has(room)) throw fail(ErrorCode.Forbidden, `join the call room "${room}" before signalling in it`);
    if (typeof to !== 'string' || to === '' || to === context.id) throw fail(ErrorCode.BadRequest, `${SIGNAL}: "to" must be the peer id of another peer of the room`);
    if (!('data' in data) || data.data === undefined) throw fail(ErrorCode.BadRequest, `${SIGNAL}: "data" is missing (a description or a candidate)`);
    const size = Buffer.byteLength(JSON.stringify(data.data));
    if (size > resolved.maxSignalBytes) {
      throw fail(ErrorCode.TooLarge, `a signal of ${size} bytes is larger than maxSignalBytes (${resolved.maxSignalBytes}); raise webrtcSignalling's maxSignalBytes if your descriptions are that large`);
    }
    if (takeTokens(member.bucket, resolved.signalRate, resolved.signalBurst, 1, Date.now()) > 0) {
      throw fail(ErrorCode.RateLimited, `more than ${resolved.signalRate} signals a second (burst ${resolved.signalBurst}); this one was dropped (webrtcSignalling's signalRate and signalBurst options)`);
    }
    const relay = member.tail.then(async () => {
      if (!(await isPeerIn(hub, room, to))) throw fail(ErrorCode.Forbidden, `${to} is not a peer of the call room "${room}"`);
      await kit.publish(peerChannel(room, to), SIGNAL, { room, from: context.id, data: data.data });
      return {};
    });
    member.tail = relay.catch(() => {});
    return relay;
  });

  hub.handle(ICE_SERVERS, (_message, context) => iceAnswer(resolved.ice, context.userId));

  hub.on('connection.closed', ({ session }) => {
    const member = members.get(session.id);
    if (!member) return;
    members.delete(session.id);
    // A failure is logged by the hub; the room's presence drops the peer within presenceTtl anyway.
    for (const room of member.rooms) hub.publish(roomChannel(room), LEFT, { room, peer: session.id }).catch(() => {});
  });

  return {
    peers(room: string) {
      if (typeof room !== 'string' || !ROOM_NAME.test(room)) throw new TypeError('livehub: a room name is 1-64 characters of A-Z a-z 0-9 _ - . @ = + , ! ~');
      return roster(hub, room);
    },
    iceServers: (userId) => iceAnswer(resolved.ice, userId),
    iceServersHandler: (handlerOptions) => iceServersHandler(resolved.ice, handlerOptions),
  };
}

