/**
 * The HTTP API's errors and JSON answers: every refusal is `{"error":{"code","message"}}` with a real
 * HTTP status, and a hub failure (an engine that is down, a hub that is closing) maps to one here.
 */
import type { ServerResponse } from 'node:http';

/** The `error.code` values the HTTP API answers with. docs/http-api.md lists them with their statuses. */
export const ApiErrorCode = {
  /** 400: the body is not JSON (or not UTF-8). */
  BadJson: 'bad_json',
  /** 400: a field is missing, has the wrong type, or is not one the endpoint knows. */
  BadRequest: 'bad_request',
  /** 400: `channel` (or an entry of `channels`) is missing or not a valid channel name. */
  InvalidChannel: 'invalid_channel',
  /** 400: `type` is missing or not a valid message type. */
  InvalidType: 'invalid_type',
  /** 400: the body nests deeper than the hub accepts (`maxJsonDepth`, 32 by default). */
  TooDeep: 'too_deep',
  /** 400: the body has more object keys than the hub accepts (`maxJsonKeys`, 1024 by default). */
  TooManyKeys: 'too_many_keys',
  /** 401: no API key, or not one of the configured keys. */
  Unauthorized: 'unauthorized',
  /** 404: no such endpoint. */
  NotFound: 'not_found',
  /** 405: the endpoint exists, with another method (see the `Allow` header). */
  MethodNotAllowed: 'method_not_allowed',
  /** 413: the body is larger than `maxBodySize`. */
  TooLarge: 'too_large',
  /** 415: a POST whose Content-Type is not application/json. */
  UnsupportedMediaType: 'unsupported_media_type',
  /** 429: the key sent more than its rate limit (see the `Retry-After` header). */
  RateLimited: 'rate_limited',
  /** 500: an unexpected failure, logged on the server. */
  Internal: 'internal',
  /** 503: the engine (Redis) could not be reached; nothing was done. Retry (same `id`: no duplicate). */
  Unavailable: 'unavailable',
  /** 503: the hub is shutting down; retry on another node. */
  Closed: 'closed',
} as const;
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

/** A refusal: its HTTP status, code, message, and any headers it needs (`Allow`, `Retry-After`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The JSON body: `{"error":{"code","message"}}`. */
  toJSON(): { error: { code: ApiErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Seconds a client is told to wait after a 503 before retrying. */
export const RETRY_AFTER_UNAVAILABLE = 1;

/**
 * The ApiError for a failure thrown by a hub call, or null when it is not one the API expected (the
 * caller then answers 500 and logs it): a TypeError is the hub refusing an argument (400); `code`
 * `unavailable` or `closed` is a 503 with `Retry-After`.
 */
export function fromHubError(error: unknown): ApiError | null {
  if (error instanceof ApiError) return error;
  if (error instanceof TypeError) return new ApiError(400, ApiErrorCode.BadRequest, error.message.replace(/^livehub: /, ''));
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message.replace(/^livehub: /, '') : String(error);
  const retry = { 'Retry-After': String(RETRY_AFTER_UNAVAILABLE) };
  if (code === 'unavailable') return new ApiError(503, ApiErrorCode.Unavailable, `${message}; nothing was done, retry later`, retry);
  if (code === 'closed') return new ApiError(503, ApiErrorCode.Closed, `${message}; retry on another node`, retry);
  return null;
}

/** Writes a JSON answer, unless the response was already sent (then it does nothing). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

/** Writes an ApiError as its status, headers and JSON body. */
export function sendError(res: ServerResponse, error: ApiError): void {
  sendJson(res, error.status, error.toJSON(), error.headers);
}
