/**
 * Names on the wire: channel names, message types, tags, request ids and the WebSocket subprotocol.
 * No runtime dependency, so the browser client imports it too.
 */

/** Channel `"*"` reaches every connected client, subscribed or not. */
export const EVERYONE_CHANNEL = '*';
/** @deprecated Use `EVERYONE_CHANNEL` (`broadcast` names one message to several channels, as in the HTTP API). */
export const BROADCAST_CHANNEL = EVERYONE_CHANNEL;

/**
 * The WebSocket subprotocol of livehub's own clients. A connection that negotiated it (or a request
 * that carries an `id`) gets the full protocol: confirmations, errors naming their channel, resets
 * and presence lists. A connection without it gets the plain protocol (that of the Go hub livehub
 * is compatible with): every frame that carries a `channel` key is a real message `{channel, type, data}`.
 */
export const SUBPROTOCOL = 'livehub.v1';

/** Longest channel name and message type, in bytes (names are ASCII, so also in characters). */
export const MAX_NAME_LENGTH = 255;

/** The characters a channel name or message type may use, for error messages. */
export const NAME_CHARACTERS = 'A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $';

/**
 * Channel names: 1 to 255 characters from `A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $`, or exactly `*`.
 * Message types use the same set.
 */
export const NAME_PATTERN = /^[A-Za-z0-9_\-:.@/=+,!~#$]{1,255}$/;

export function isValidChannel(value: unknown): value is string {
  return typeof value === 'string' && (value === BROADCAST_CHANNEL || NAME_PATTERN.test(value));
}

/** Whether `value` is a valid message type (the `type` of a message). */
export function isValidType(value: unknown): value is string {
  return typeof value === 'string' && NAME_PATTERN.test(value);
}

/** A request id, echoed in `ack`, `reply` and `error` answers. */
export type RequestId = string | number;

export function isValidRequestId(value: unknown): value is RequestId {
  return (typeof value === 'string' && value.length > 0 && value.length <= 64) ||
    (typeof value === 'number' && Number.isSafeInteger(value));
}

/** Tags on a publication and filters on a subscription: at most 16 keys of `[A-Za-z0-9_-]`, string values of at most 256 characters. */
export function isValidTags(value: unknown): value is Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return entries.length <= 16 && entries.every(([key, tag]) => /^[A-Za-z0-9_-]{1,64}$/.test(key) && typeof tag === 'string' && tag.length <= 256);
}

/** The prefix of personal channels: `user:<id>`, which every connection of the user is in. */
export const USER_CHANNEL_PREFIX = 'user:';

/** A character a channel name may hold as it is (see `NAME_CHARACTERS`; `~` starts an escape). */
const KEPT = /[A-Za-z0-9_\-:.@/=+,!#$]/;

/**
 * The personal channel of a user: `user:` followed by the user id, where every character a channel
 * name cannot hold (and `~` itself) is written as `~` and two hex digits per UTF-8 byte, so a user id
 * of any characters has one, distinct channel (`userChannel('José')` is `user:Jos~C3~A9`). The hub
 * and the client compute it the same way. An id whose channel would pass the 255-character limit has
 * none: the hub refuses such an identity at `authenticate`.
 */
export function userChannel(userId: string): string {
  let escaped = '';
  for (const character of userId) {
    if (KEPT.test(character)) escaped += character;
    else for (const byte of new TextEncoder().encode(character)) escaped += `~${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `${USER_CHANNEL_PREFIX}${escaped}`;
}
