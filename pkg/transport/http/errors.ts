/**
 * The HTTP API's errors and JSON answers: every refusal is `{"error":{"code","message"}}` with a real
 * HTTP status, and a hub failure (an engine that is down, a hub that is closing) maps to one here.
 */
import type { ServerResponse } from 'node:http';
import { ErrorCode } from '../../protocol/index.js';

/**
 * @deprecated The HTTP API answers the codes of the one registry, `ErrorCode` (each code's status,
 * meaning and fix are in `ERRORS`); this alias stays for a deprecation period.
 */
export const ApiErrorCode = ErrorCode;
/** @deprecated Use `ErrorCode`. */
export type ApiErrorCode = ErrorCode;

/** A refusal: its HTTP status, code, message, and any headers it needs (`Allow`, `Retry-After`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The JSON body: `{"error":{"code","message"}}`. */
  toJSON(): { error: { code: ErrorCode; message: string } } {
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
  if (error instanceof TypeError) return new ApiError(400, ErrorCode.BadRequest, error.message.replace(/^livehub: /, ''));
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message.replace(/^livehub: /, '') : String(error);
  const retry = { 'Retry-After': String(RETRY_AFTER_UNAVAILABLE) };
  if (code === 'unavailable') return new ApiError(503, ErrorCode.Unavailable, `${message}; nothing was done, retry later`, retry);
  if (code === 'closed') return new ApiError(503, ErrorCode.Closed, `${message}; retry on another node`, retry);
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
