/**
 * Close codes: how a connection ends and whether the client reconnects. 1000-1015 are RFC 6455's;
 * 4000-4499 mean "reconnect" (with backoff); 4500-4999 mean "do not reconnect" (terminal).
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
  /** Sent by the client to itself: no heartbeat answer within the heartbeat timeout; reconnect. */
  HeartbeatTimeout: 4000,
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
