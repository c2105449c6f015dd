/**
 * The HTTP API's errors and JSON answers: every refusal is `{"error":{"code","message"}}` with a real
 * HTTP status, and a hub failure (an engine that is down, a hub that is closing) maps to one here.
 */
import { ErrorCode } from '../../protocol/index.js';
import { ApiError } from '../http-io.js';

export { ApiError, sendError, sendJson } from '../http-io.js';

/**
 * @deprecated The HTTP API answers the codes of the one registry, `ErrorCode` (each code's status,
 * meaning and fix are in `ERRORS`); this alias stays for a deprecation period.
 */
export const ApiErrorCode = ErrorCode;
/** @deprecated Use `ErrorCode`. */
export type ApiErrorCode = ErrorCode;


/** Seconds a client is told to wait after a 503 before retrying. */
export const RETRY_AFTER_UNAVAILABLE = 1;

/**
 * The ApiError for a failure thrown by a hub call, or null when it is not one the API expected (the
 * caller then answers 500 and logs it): a TypeError is the hub refusing an argument (400); `code`
 * `unavailable` or `closed` is a 503 and `outcome_unknown` a 504, each with `Retry-After`.
 */
export function fromHubError(error: unknown): ApiError | null {
  if (error instanceof ApiError) return error;
  if (error instanceof TypeError) return new ApiError(400, ErrorCode.BadRequest, error.message.replace(/^livehub: /, ''));
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message.replace(/^livehub: /, '') : String(error);
  const retry = { 'Retry-After': String(RETRY_AFTER_UNAVAILABLE) };
  if (code === 'unavailable') return new ApiError(503, ErrorCode.Unavailable, `${message}; nothing was done, retry later`, retry);
  if (code === 'outcome_unknown') return new ApiError(504, ErrorCode.OutcomeUnknown, `${message}`, retry);
  if (code === 'closed') return new ApiError(503, ErrorCode.Closed, `${message}; retry on another node`, retry);
  return null;
}


