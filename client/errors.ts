import { ErrorCode, type StreamPosition } from '../pkg/protocol/index.js';

/**
 * An error the client reports: an error frame from the server (its `code`) or one of the client's
 * own (`connect_failed`, `connect_timeout`, `no_websocket`, `no_eventsource`, `closed`,
 * `reconnect_failed`, `timeout`, `queue_full`, `not_connected`, `connection_lost`, `bad_json`,
 * `post_failed`), all in the one registry of codes (`ERRORS`, with each one's meaning and fix), or
 * `http_<status>` for a refused SSE command POST whose answer had no code. `channel` is set when the error
 * is about one, and the message then names it.
 */
export class LiveError extends Error {
  /** A code of the one registry (`ERRORS`: its meaning and fix), or a server handler's own code. */
  readonly code: ErrorCode | (string & {});
  readonly channel?: string;

  constructor(code: ErrorCode | (string & {}), message: string, channel?: string) {
    super(channel === undefined || namesChannel(message, channel) ? message : `${message} (channel "${channel}")`);
    this.name = 'LiveError';
    this.code = code;
    if (channel !== undefined) this.channel = channel;
  }
}

function namesChannel(message: string, channel: string): boolean {
  return message.includes(`"${channel}"`) || message.includes(`'${channel}'`);
}

/** The client's own errors about connecting; `url` is the one configured (never with a token). */
export const clientErrors = {
  /** The socket closed before it opened: refused (HTTP 401/403/404…), or nothing listens there. */
  connectFailed: (url: string, code: number, reason: string) => new LiveError('connect_failed',
    `could not connect to ${url} (close ${code}${reason ? ` ${reason}` : ''}): check that the server runs at this URL `
    + 'and accepts this page\'s origin (the hub\'s origins option) and credentials; retrying with backoff'),
  /** The handshake did not complete within `connectTimeout`. */
  connectTimeout: (url: string, ms: number) => new LiveError('connect_timeout',
    `could not connect to ${url} within ${ms} ms (connectTimeout): the server or a proxy accepted the connection but never answered; retrying with backoff`),
  /** No global WebSocket and no `ws` package. */
  noWebSocket: (cause: Error) => new LiveError('no_websocket',
    `livehub: no WebSocket implementation: ${cause.message}; install ws (npm install ws) or pass the WebSocket option`),
  /** `transport: 'sse'` (or a fallback) with no global EventSource and no `EventSource` option. */
  noEventSource: (cause: Error) => new LiveError('no_eventsource',
    `livehub: no EventSource implementation: ${cause.message}; install eventsource (npm install eventsource) and pass its EventSource as the EventSource option`),
};

/** Error codes after which the same subscribe can succeed later: the client retries them with backoff. */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  ErrorCode.Unavailable, ErrorCode.Internal, ErrorCode.RateLimited, ErrorCode.Timeout,
]);

/** A subscribe with a position was answered: what was missed is replayed next. */
export interface RecoveredEvent { channel: string; from: number; to: number }
/**
 * Messages are missing on `channel`: the server could not replay them (the client was away longer
 * than the channel's history covers, or the stream was reset). Nothing between `since` and
 * `position` will arrive: reload what the page shows from the channel (its own HTTP route, Inertia
 * props), then live messages continue after `position`.
 */
export interface GapEvent {
  channel: string;
  /** Where the stream stands now: live messages continue after it. */
  position: StreamPosition;
  /** The last position the client had seen (what it asked to resume from); null when it had none. */
  since: StreamPosition | null;
}
/**
 * A subscribe was refused. `retrying` is true for errors that can pass (`unavailable`, `internal`,
 * `rate_limited`, no answer in time): the client subscribes again after `retryIn` ms (full-jitter
 * backoff) while the connection stays open. Others (`forbidden`, `invalid_channel`,
 * `too_many_channels`) are not retried until the next connection.
 */
export interface SubscribeErrorEvent { channel: string; error: LiveError; retrying: boolean; retryIn?: number }
