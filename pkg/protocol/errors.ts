/**
 * The one registry of error codes. The same code means the same thing wherever it appears: in a
 * WebSocket or SSE `{"type":"error","code":…}` frame, in an HTTP answer `{"error":{"code":…}}` (the
 * HTTP API and the SSE endpoint), and in the client's `LiveError.code`. Each code is described once
 * here, with its HTTP status where HTTP answers it, what it means, and what fixes it;
 * docs/protocol.md lists the same table.
 */

/** Error codes, by name. A server-side handler may also answer codes of its own (lower-case words joined by `_`). */
export const ErrorCode = {
  BadJson: 'bad_json',
  BadRequest: 'bad_request',
  UnknownType: 'unknown_type',
  InvalidChannel: 'invalid_channel',
  InvalidType: 'invalid_type',
  /** @deprecated The code is `invalid_type` (`ErrorCode.InvalidType`) on every transport. */
  InvalidEvent: 'invalid_type',
  Forbidden: 'forbidden',
  BadData: 'bad_data',
  TooDeep: 'too_deep',
  TooManyKeys: 'too_many_keys',
  AlreadySubscribed: 'already_subscribed',
  TooManyChannels: 'too_many_channels',
  InvalidPattern: 'invalid_pattern',
  TooManyPatterns: 'too_many_patterns',
  RateLimited: 'rate_limited',
  Internal: 'internal',
  Timeout: 'timeout',
  Unavailable: 'unavailable',
  OutcomeUnknown: 'outcome_unknown',
  Closed: 'closed',
  Unauthorized: 'unauthorized',
  OriginRefused: 'origin_refused',
  Refused: 'refused',
  NotFound: 'not_found',
  MethodNotAllowed: 'method_not_allowed',
  TooLarge: 'too_large',
  UnsupportedMediaType: 'unsupported_media_type',
  BadBody: 'bad_body',
  BadPreflight: 'bad_preflight',
  BadStream: 'bad_stream',
  NoStream: 'no_stream',
  ConnectFailed: 'connect_failed',
  ConnectTimeout: 'connect_timeout',
  ConnectionLost: 'connection_lost',
  SocketError: 'socket_error',
  ReconnectFailed: 'reconnect_failed',
  NotConnected: 'not_connected',
  QueueFull: 'queue_full',
  NoWebSocket: 'no_websocket',
  NoEventSource: 'no_eventsource',
  NoFetch: 'no_fetch',
  PostFailed: 'post_failed',
  BeyondHead: 'beyond_head',
  StaleEpoch: 'stale_epoch',
  Unsupported: 'unsupported',
  HandlerFailed: 'handler_failed',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What a code means, where it comes from, and what to do about it. */
export interface ErrorInfo {
  /** The HTTP status it is answered with, where HTTP answers it. */
  status?: number;
  /** Who says it: the server (any transport), the HTTP endpoints only, or the client itself. */
  from: 'server' | 'http' | 'client';
  meaning: string;
  fix: string;
}

/** Every code, described once. */
export const ERRORS: Readonly<Record<ErrorCode, ErrorInfo>> = {
  bad_json: { status: 400, from: 'server', meaning: 'the message or body is not valid JSON (or not UTF-8)', fix: 'send one JSON object per message' },
  bad_request: { status: 400, from: 'server', meaning: 'valid JSON, but not an object of the expected shape: a field is missing, unknown, or of the wrong type', fix: 'the message names the field; see docs/protocol.md for each command' },
  unknown_type: { from: 'server', meaning: 'the message type is neither a built-in command nor one the server handles (`hub.handle`)', fix: 'check the type, or register a handler for it on the server' },
  invalid_channel: { status: 400, from: 'server', meaning: 'the channel is missing or not a valid name (1-255 characters of A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $, or "*")', fix: 'use a valid name; the HTTP API also refuses names starting with "#"' },
  invalid_type: { status: 400, from: 'server', meaning: 'the message type is missing or not a valid name (the `type` of a message; `event` in a publish frame)', fix: 'use 1-255 characters of A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $' },
  forbidden: { from: 'server', meaning: 'the server\'s policy (`authorize`, `canPublish`) does not allow this action on this channel, a presence request before subscribing, or an acknowledgement of another user\'s stream (or by an anonymous connection)', fix: 'sign in as a user who may, subscribe first, or acknowledge only the connection\'s own user stream; the connection stays open' },
  bad_data: { from: 'server', meaning: 'the data could not be encoded', fix: 'send plain JSON data' },
  too_deep: { status: 400, from: 'server', meaning: 'the message nests deeper than the server accepts (`maxJsonDepth`, 32 by default)', fix: 'flatten the data, or raise maxJsonDepth on the server' },
  too_many_keys: { status: 400, from: 'server', meaning: 'the message has more object keys than the server accepts (`maxJsonKeys`, 1024 by default)', fix: 'send less per message, or raise maxJsonKeys on the server' },
  already_subscribed: { from: 'server', meaning: 'the connection is already subscribed to this channel; the subscription stands as it was', fix: 'nothing to do; unsubscribe first to subscribe again with another position or filter' },
  too_many_channels: { from: 'server', meaning: 'the connection is subscribed to as many channels as it may be (`maxChannelsPerClient`, 128 by default)', fix: 'unsubscribe from channels no longer shown, or raise maxChannelsPerClient' },
  invalid_pattern: { status: 400, from: 'server', meaning: 'the pattern of a pattern subscribe is not a valid topic filter: "+" or "#" mixed with other characters in a level, "#" not the last level, no wildcard at all, or a level no channel\'s topic has', fix: 'write each wildcard as a whole level, "#" last (see docs/protocol.md, pattern subscriptions)' },
  too_many_patterns: { from: 'server', meaning: 'the connection has as many pattern subscriptions as it may (`maxPatternsPerClient`, 16 by default)', fix: 'unsubscribe from patterns no longer needed, use a broader pattern, or raise maxPatternsPerClient' },
  rate_limited: { status: 429, from: 'server', meaning: 'more messages (or HTTP commands) than the rate limit allows; this one was dropped', fix: 'slow down; HTTP answers say when to retry in Retry-After' },
  internal: { status: 500, from: 'server', meaning: 'the server failed while handling the request (logged there with its stack); the request had no effect', fix: 'look at the server\'s log for the cause' },
  timeout: { from: 'server', meaning: 'no answer in time: a server-side handler did not answer within `handlerTimeout`, or the client got no reply within its `ackTimeout`', fix: 'retry; a request with an id is safe to retry' },
  unavailable: { status: 503, from: 'server', meaning: 'the engine (history, Redis) could not be reached; nothing was published or subscribed', fix: 'retry (with the same id: no duplicate); the server log names the store and the cause' },
  outcome_unknown: { status: 504, from: 'server', meaning: 'the publish reached the engine but no answer came in time (Redis frozen or cut off mid-command): it may or may not have been published', fix: 'retry with the same id: the answer is the first publish\'s position if it was applied, and it is never published twice; a publish without an id cannot be retried safely' },
  closed: { status: 503, from: 'server', meaning: 'the hub is shutting down (or the client was closed)', fix: 'reconnect, to another node if there is one' },
  unauthorized: { status: 401, from: 'http', meaning: 'no credential, or not one the server accepts (an API key, a token)', fix: 'send a valid key or token' },
  origin_refused: { status: 403, from: 'http', meaning: 'the page\'s origin may not connect (the hub\'s `origins` option)', fix: 'add the origin to the hub\'s origins option if the page is yours' },
  refused: { from: 'http', meaning: 'the connection was refused by the gate: over a connection cap (429/503) or not authenticated (401)', fix: 'the status says which; Retry-After says when to retry' },
  not_found: { status: 404, from: 'http', meaning: 'no such endpoint', fix: 'check the path' },
  method_not_allowed: { status: 405, from: 'http', meaning: 'the endpoint exists with another method', fix: 'use a method the Allow header lists' },
  too_large: { status: 413, from: 'http', meaning: 'the body is larger than the endpoint accepts', fix: 'send less, or raise the endpoint\'s size limit' },
  unsupported_media_type: { status: 415, from: 'http', meaning: 'a POST whose Content-Type is not application/json', fix: 'send JSON with Content-Type: application/json' },
  bad_body: { status: 400, from: 'http', meaning: 'the request body could not be read', fix: 'send the body again' },
  bad_preflight: { status: 400, from: 'http', meaning: 'a CORS preflight asked for headers an SSE command does not carry', fix: 'send only Content-Type and X-Livehub-Stream' },
  bad_stream: { status: 400, from: 'http', meaning: 'an SSE command without a valid stream token', fix: 'send the token of the stream\'s first event in X-Livehub-Stream' },
  no_stream: { status: 404, from: 'http', meaning: 'the SSE stream the token names is closed', fix: 'reopen the stream and use its new token' },
  connect_failed: { from: 'client', meaning: 'the connection closed before it opened: refused (401, 403, 404…), or nothing listens at the URL', fix: 'check the URL, the hub\'s origins option and the credentials; the client retries with backoff' },
  connect_timeout: { from: 'client', meaning: 'the handshake did not complete within `connectTimeout`', fix: 'a server or proxy accepted the connection but never answered; the client retries' },
  connection_lost: { from: 'client', meaning: 'the connection dropped while a request waited for its answer', fix: 'retry once reconnected; a request with an id is safe to retry' },
  socket_error: { from: 'client', meaning: 'the open WebSocket reported an error (browsers give no detail)', fix: 'nothing to do: the client reconnects when the connection closes; check the network or a proxy if it repeats' },
  reconnect_failed: { from: 'client', meaning: 'the client gave up reconnecting (`reconnect.retries` attempts)', fix: 'call connect() again, or raise the retries' },
  not_connected: { from: 'client', meaning: 'a request was made while the client was not connected and queueing was off', fix: 'wait for the open event, or let the client queue' },
  queue_full: { from: 'client', meaning: 'the client\'s queue of messages waiting for a connection is full', fix: 'raise the client\'s queue size, or send less while offline' },
  no_websocket: { from: 'client', meaning: 'no WebSocket implementation in this environment', fix: 'install ws (npm install ws) or pass the WebSocket option' },
  no_eventsource: { from: 'client', meaning: 'Server-Sent Events were asked for and there is no EventSource', fix: 'install eventsource and pass its EventSource as the EventSource option' },
  no_fetch: { from: 'client', meaning: 'Server-Sent Events need fetch to send commands, and there is none', fix: 'run on Node 18+ or a browser, or pass a fetch implementation' },
  beyond_head: { from: 'server', meaning: 'an acknowledgement of a position past the stream\'s head (nothing was published there yet); nothing was stored', fix: 'acknowledge only offsets the connection received' },
  stale_epoch: { from: 'server', meaning: 'an acknowledgement of a position in an epoch the stream no longer has (its history was lost); nothing was stored', fix: 'ask for the stream\'s position again (`unread`) and acknowledge in its epoch' },
  unsupported: { from: 'server', meaning: 'the hub\'s engine does not keep what the command needs (acknowledgements: an engine without `acknowledge`)', fix: 'use an engine that has it (memory, Redis, PostgreSQL), or do not send the command' },
  handler_failed: { from: 'client', meaning: 'an inbox handler (`client.inbox({ onMessage })`) threw or rejected: its message was not acknowledged, and automatic acknowledgements stopped', fix: 'fix the handler; call inbox.acknowledge() to acknowledge and resume' },
  post_failed: { from: 'client', meaning: 'an SSE command POST failed on the network', fix: 'the client retries; check the server is reachable' },
};

/** The description of a code, or undefined for a code of the application's own. */
export function describeError(code: string): ErrorInfo | undefined {
  return Object.hasOwn(ERRORS, code) ? ERRORS[code as ErrorCode] : undefined;
}
