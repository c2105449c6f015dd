/**
 * The livehub wire protocol: the shapes and codes shared by the server hub and the clients.
 * This file has no runtime dependency, so the browser client can import it. docs/protocol.md is
 * the prose version of this file; keep them in step.
 */

/** Channel `"*"` reaches every connected client, subscribed or not (as in the Go original). */
export const BROADCAST_CHANNEL = '*';

/**
 * The WebSocket subprotocol of livehub's own clients. A connection that negotiated it (or a request
 * that carries an `id`) gets the full protocol: confirmations, errors naming their channel, resets
 * and presence lists. A connection without it speaks the Go original's protocol: every frame that
 * carries a `channel` key is a real message `{channel, type, data}`.
 */
export const SUBPROTOCOL = 'livehub.v1';

/** Longest channel name and event type, in bytes (names are ASCII, so also in characters). */
export const MAX_NAME_LENGTH = 255;

/** The characters a channel name or event type may use, for error messages. */
export const NAME_CHARACTERS = 'A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $';

/**
 * Channel names: 1 to 255 characters from `A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $`, or exactly `*`.
 * Event types use the same set.
 */
export const NAME_PATTERN = /^[A-Za-z0-9_\-:.@/=+,!~#$]{1,255}$/;

export function isValidChannel(value: unknown): value is string {
  return typeof value === 'string' && (value === BROADCAST_CHANNEL || NAME_PATTERN.test(value));
}

export function isValidEventType(value: unknown): value is string {
  return typeof value === 'string' && NAME_PATTERN.test(value);
}

/** A request id, echoed in `ack` and `error` replies. */
export type RequestId = string | number;

/** A reply with the request's id added, when the request had one. */
export function withId<T extends object>(reply: T, id: RequestId | undefined): T {
  return id === undefined ? reply : { ...reply, id };
}

export function isValidRequestId(value: unknown): value is RequestId {
  return (typeof value === 'string' && value.length > 0 && value.length <= 64) ||
    (typeof value === 'number' && Number.isSafeInteger(value));
}

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
  offset: number;
  epoch: string;
}

/** Commands a client sends. */
export type ClientCommand =
  /** `filter`: only publications whose tags have these values (see `hub.publish(…, { tags })`). */
  | { type: 'subscribe'; channel: string; id?: RequestId; since?: StreamPosition; filter?: Record<string, string> }
  | { type: 'unsubscribe'; channel: string; id?: RequestId }
  /** `exceptSelf`: every subscriber but this connection gets it. */
  | { type: 'publish'; channel: string; event: string; data?: unknown; id?: RequestId; exceptSelf?: boolean }
  | { type: 'ping'; id?: RequestId }
  /** The member list of a presence channel the client is subscribed to. */
  | { type: 'presence'; channel: string; id?: RequestId }
  /** Sets the client's status in a presence channel it is subscribed to. */
  | { type: 'status'; channel: string; status: PresenceStatus; id?: RequestId };

export type PresenceStatus = 'online' | 'away' | 'busy';
/** A user in a presence channel. */
export interface PresenceMember {
  userId: string;
  status: PresenceStatus;
  /** Live connections of the user in the channel. */
  connections: number;
  info?: unknown;
}
export const PRESENCE_STATUSES: readonly PresenceStatus[] = ['online', 'away', 'busy'];

/** Replies the server sends (besides hub messages). */
export type ServerReply =
  | { type: 'subscribed'; channel: string; id?: RequestId; offset?: number; epoch?: string; recovered?: boolean }
  | { type: 'unsubscribed'; channel: string; id?: RequestId }
  /** A publish was done; `offset` and `epoch` give its position in the channel's stream. */
  | { type: 'ack'; id: RequestId; offset?: number; epoch?: string }
  /** The members of a presence channel: after `subscribed`, and in answer to `presence`. */
  | { type: 'presence'; channel: string; members: PresenceMember[]; id?: RequestId }
  /** The channel's stream broke (history lost): messages may be missing; it continues after `offset`. */
  | { type: 'reset'; channel: string; offset: number; epoch: string }
  | { type: 'pong'; id?: RequestId }
  /** The answer of a server-side handler (`hub.handle`) to a request with an id. */
  | { type: 'reply'; id: RequestId; data: unknown }
  | { type: 'error'; code: ErrorCode; message: string; id?: RequestId; channel?: string };

/** Codes carried by `{"type":"error"}` frames. The connection stays open after every one of them. */
export const ErrorCode = {
  /** The message was not valid JSON. */
  BadJson: 'bad_json',
  /** Valid JSON, but not a JSON object with a string `type`, or a field had the wrong type. */
  BadRequest: 'bad_request',
  /** `type` is not a command this server knows. */
  UnknownType: 'unknown_type',
  /** `channel` is missing or not a valid channel name. */
  InvalidChannel: 'invalid_channel',
  /** `event` of a publish is missing or not a valid event type. */
  InvalidEvent: 'invalid_event',
  /** The server's policy does not allow this action on this channel. */
  Forbidden: 'forbidden',
  /** The data could not be encoded (for example, nested too deeply). */
  BadData: 'bad_data',
  /** The message nests deeper than the server accepts (32 by default). */
  TooDeep: 'too_deep',
  /** The message has more object keys than the server accepts (1024 by default). */
  TooManyKeys: 'too_many_keys',
  /** The connection is already subscribed to this channel (the subscription stands as it was). */
  AlreadySubscribed: 'already_subscribed',
  /** The client is subscribed to as many channels as it may be (128 by default). */
  TooManyChannels: 'too_many_channels',
  /** The client sends faster than its rate limit; the message was dropped. */
  RateLimited: 'rate_limited',
  /** The server failed while handling the request; the request had no effect. */
  Internal: 'internal',
  /** A server-side handler did not answer within `handlerTimeout`. */
  Timeout: 'timeout',
  /** The engine (history, Redis) could not be reached; nothing was published or subscribed. Retry. */
  Unavailable: 'unavailable',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * WebSocket close codes livehub uses. 1000-1015 are RFC 6455's; 4000-4499 mean "reconnect"
 * (with backoff); 4500-4999 mean "do not reconnect" (terminal). The client follows this table.
 */
export const CloseCode = {
  /** Normal closure, by the client's `close()`. */
  Normal: 1000,
  /** The server is shutting down (`hub.close()`); reconnect. */
  GoingAway: 1001,
  /** The peer broke RFC 6455 framing (sent by `ws`). */
  ProtocolError: 1002,
  /** A binary message on the JSON protocol. */
  UnsupportedData: 1003,
  /** Invalid UTF-8 in a text message (sent by `ws`). */
  InvalidPayload: 1007,
  /** A policy violation: a message in more than `maxFragments` fragments, or a flood of tiny chunks. */
  PolicyViolation: 1008,
  /** An inbound message over `maxMessageSize` (sent by `ws`). */
  MessageTooBig: 1009,
  /** The server failed; reconnect. */
  InternalError: 1011,
  /** The node is draining for a restart (`hub.drain()`); reconnect, to another node. */
  ServiceRestart: 1012,
  /** The server is overloaded; reconnect later. */
  TryAgainLater: 1013,
  /** Reconnect: the client did not read fast enough and its send buffer filled up. */
  SlowConsumer: 4001,
  /** Reconnect with a fresh token: the connection's credential expired (the client calls getToken). */
  TokenExpired: 4002,
  /** Reconnect after backoff: the client kept sending over its rate limit. */
  RateLimited: 4003,
  /** Terminal: the server disconnected this user (logout, ban); reconnecting cannot help. */
  Disconnected: 4503,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Tags on a publication and filters on a subscription: at most 16 keys of `[A-Za-z0-9_-]`, string values of at most 256 characters. */
export function isValidTags(value: unknown): value is Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return entries.length <= 16 && entries.every(([key, tag]) => /^[A-Za-z0-9_-]{1,64}$/.test(key) && typeof tag === 'string' && tag.length <= 256);
}

/** Longest close reason RFC 6455 allows, in UTF-8 bytes. */
export const MAX_CLOSE_REASON_BYTES = 123;

/** A close reason cut to 123 UTF-8 bytes on a character boundary (ws throws on a longer one). */
export function clampCloseReason(reason: string): string {
  if (reason.length <= MAX_CLOSE_REASON_BYTES / 3) return reason;
  const encoder = new TextEncoder();
  if (encoder.encode(reason).length <= MAX_CLOSE_REASON_BYTES) return reason;
  let out = '';
  let bytes = 0;
  for (const char of reason) {
    const size = encoder.encode(char).length;
    if (bytes + size > MAX_CLOSE_REASON_BYTES) break;
    out += char;
    bytes += size;
  }
  return out;
}

/** Whether a client should reconnect after the server closed with `code`. */
export function shouldReconnect(code: number): boolean {
  if (code === CloseCode.Normal) return false;
  if (code >= 4500 && code <= 4999) return false;
  if (code === CloseCode.ProtocolError || code === CloseCode.UnsupportedData) return false;
  return true;
}
