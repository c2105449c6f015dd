/**
 * What travels on the wire: the messages the hub delivers, the commands a client sends and the
 * replies it gets. docs/protocol.md is the prose version; keep them in step.
 *
 * One name for a message's type everywhere (`type`), with one exception the wire cannot avoid: a
 * client's publish command is itself a frame whose `type` is `"publish"`, so the type of the message
 * it publishes travels as `event` in that one frame.
 */
import type { ErrorCode } from './errors.js';
import type { RequestId } from './names.js';

/** A message the hub delivers: `{"channel":C,"type":T,"data":D,"offset":N}`, one per WebSocket message. */
export interface HubMessage<T = unknown> {
  channel: string;
  type: string;
  data: T;
  /** The publication's position in the channel's stream. */
  offset?: number;
  /** Tags the publisher set (what subscription filters match). */
  tags?: Record<string, string>;
  /** Who published it, as stamped by the server (only on messages published by clients). */
  from?: { user?: string; client: string; echo?: false };
}

/** A position in a channel's stream: the offset of the last publication seen, and the history's epoch. */
export interface StreamPosition {
  /** The offset of the last publication (0 before the first). */
  offset: number;
  /** The name of this history; changes when history is lost. */
  epoch: string;
}

/** A member's status in a presence channel; `offline` is implied when a user's last connection leaves. */
export type PresenceStatus = 'online' | 'away' | 'busy';
export const PRESENCE_STATUSES: readonly PresenceStatus[] = ['online', 'away', 'busy'];

/** A user in a presence channel. */
export interface PresenceMember {
  userId: string;
  status: PresenceStatus;
  /** Live connections of the user in the channel. */
  connections: number;
  info?: unknown;
}

/** Commands a client sends. */
export type ClientCommand =
  /** `filter`: only publications whose tags have these values (see `hub.publish(…, { tags })`). */
  | { type: 'subscribe'; channel: string; id?: RequestId; since?: StreamPosition; filter?: Record<string, string> }
  | { type: 'unsubscribe'; channel: string; id?: RequestId }
  /**
   * `event` is the published message's type; `exceptSelf`: every subscriber but this connection gets
   * it; `tags`: the message's tags, which subscribers' filters match (as a server publish's).
   */
  | { type: 'publish'; channel: string; event: string; data?: unknown; id?: RequestId; exceptSelf?: boolean; tags?: Record<string, string> }
  | { type: 'ping'; id?: RequestId }
  /** The member list of a presence channel the client is subscribed to. */
  | { type: 'presence'; channel: string; id?: RequestId }
  /** Sets the client's status in a presence channel it is subscribed to. */
  | { type: 'status'; channel: string; status: PresenceStatus; id?: RequestId }
  /**
   * Acknowledges the connection's own user stream (its personal channel) up to `offset` of `epoch`:
   * for every connection of the user, on every node. Answered with `unread`.
   */
  | { type: 'acknowledge'; channel: string; offset: number; epoch: string; id?: RequestId }
  /** Asks where the connection's own user stream stands. Answered with `unread`. */
  | { type: 'unread'; id?: RequestId };

/**
 * Subscribes to or unsubscribes from a pattern (`sensors/+/temp`, see patterns.ts): a `subscribe` or
 * `unsubscribe` with `pattern` instead of `channel`. Its messages come with their own channels.
 */
export interface PatternCommand { type: 'subscribe' | 'unsubscribe'; pattern: string; id?: RequestId }

/** The answer to a `PatternCommand`. */
export interface PatternReply { type: 'subscribed' | 'unsubscribed'; pattern: string; id?: RequestId }

/** The commands built into the protocol; any other type is the application's (`hub.handle`). */
export const BUILT_IN_COMMANDS: ReadonlySet<string> = new Set<ClientCommand['type']>(['subscribe', 'unsubscribe', 'publish', 'ping', 'presence', 'status', 'acknowledge', 'unread']);

/**
 * The `type`s a client reads as protocol replies rather than the application's messages (the server
 * replies, the SSE stream's own events): a direct message may not use them.
 */
export const REPLY_TYPES: ReadonlySet<string> = new Set(['subscribed', 'unsubscribed', 'ack', 'presence', 'reset', 'pong', 'reply', 'error', 'stream', 'close', 'connected', 'heartbeat', 'unread']);

/**
 * The heartbeat the hub writes to a livehub client's connection that has had nothing else written to
 * it for the heartbeat period it announced in `connected`. It asks for no answer: it only shows the
 * client that the link still carries traffic.
 */
export const HEARTBEAT_FRAME = '{"type":"heartbeat"}';

/** Replies the server sends (besides hub messages). */
export type ServerReply =
  /**
   * The first frame on a connection of livehub's full protocol: `heartbeat` is the hub's heartbeat
   * period in ms (absent: the hub sends no heartbeats). The client then expects traffic at least
   * that often.
   */
  | { type: 'connected'; heartbeat?: number }
  /** See `HEARTBEAT_FRAME`. */
  | { type: 'heartbeat' }
    /** `personal`: the connection's own personal channel, which the hub joined by itself and keeps (never unsubscribe it). */
  | { type: 'subscribed'; channel: string; id?: RequestId; offset?: number; epoch?: string; recovered?: boolean; personal?: true }
  | { type: 'unsubscribed'; channel: string; id?: RequestId }
  /** A publish was done; `offset` and `epoch` give its position in the channel's stream. */
  | { type: 'ack'; id: RequestId; offset?: number; epoch?: string }
  /** The members of a presence channel: after `subscribed`, and in answer to `presence`. */
  | { type: 'presence'; channel: string; members: PresenceMember[]; id?: RequestId }
  /** The channel's stream broke (history lost): messages may be missing; it continues after `offset`. */
  | { type: 'reset'; channel: string; offset: number; epoch: string }
  | { type: 'pong'; id?: RequestId }
  /**
   * Where the user stream `channel` (the connection's personal channel) stands: its head (`offset`,
   * `epoch`), the user's `acknowledged` offset in that epoch, and `unread`, the head minus it. The
   * answer to `acknowledge` and `unread` (with their id), and pushed (without an id) to every
   * connection of the user, on every node, whenever the acknowledgement moves.
   */
  | { type: 'unread'; channel: string; offset: number; epoch: string; acknowledged: number; unread: number; id?: RequestId }
  /** The answer of a server-side handler (`hub.handle`) to a request with an id. */
  | { type: 'reply'; id: RequestId; data: unknown }
  | { type: 'error'; code: ErrorCode; message: string; id?: RequestId; channel?: string; pattern?: string };

/** A reply with the request's id added, when the request had one. */
export function withId<T extends object>(reply: T, id: RequestId | undefined): T {
  return id === undefined ? reply : { ...reply, id };
}
