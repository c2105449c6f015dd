import { TRPCError, type TRPC_ERROR_CODE_KEY } from '@trpc/server';

/**
 * livehub's error codes (pkg/protocol/errors.ts) as tRPC's: a refused or failed call through
 * livehub/trpc is a `TRPCError` of the mapped code, its `cause` the livehub error (whose `code` is
 * livehub's own). A code not in the table is `INTERNAL_SERVER_ERROR`. docs/trpc.md lists the table.
 */
export const TRPC_CODES: Readonly<Record<string, TRPC_ERROR_CODE_KEY>> = {
  bad_request: 'BAD_REQUEST',
  invalid_channel: 'BAD_REQUEST',
  invalid_type: 'BAD_REQUEST',
  bad_data: 'BAD_REQUEST',
  too_deep: 'BAD_REQUEST',
  too_many_keys: 'BAD_REQUEST',
  too_large: 'PAYLOAD_TOO_LARGE',
  unauthorized: 'UNAUTHORIZED',
  forbidden: 'FORBIDDEN',
  not_found: 'NOT_FOUND',
  already_subscribed: 'CONFLICT',
  too_many_channels: 'TOO_MANY_REQUESTS',
  rate_limited: 'TOO_MANY_REQUESTS',
  refused: 'TOO_MANY_REQUESTS',
  timeout: 'TIMEOUT',
  outcome_unknown: 'TIMEOUT',
  unavailable: 'SERVICE_UNAVAILABLE',
  closed: 'SERVICE_UNAVAILABLE',
  unsupported: 'NOT_IMPLEMENTED',
  internal: 'INTERNAL_SERVER_ERROR',
};

/** An error livehub raised, with its code (what `hub.publish` rejects with, an error frame's code). */
export class RealtimeError extends Error {
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RealtimeError';
  }
}

/** The tRPC error for a livehub failure: its code mapped, the livehub error as `cause`. */
export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  // The hub throws a TypeError for a name or value it cannot take: the caller's input.
  if (error instanceof TypeError) return new TRPCError({ code: 'BAD_REQUEST', message: error.message, cause: new RealtimeError('bad_request', error.message, { cause: error }) });
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'internal';
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && 'code' in error ? error : new RealtimeError(code, message, { cause: error });
  return new TRPCError({ code: TRPC_CODES[code] ?? 'INTERNAL_SERVER_ERROR', message, cause });
}

/** A refusal of the caller's input or rights, as a tRPC error of the mapped code. */
export function refused(code: string, message: string): TRPCError {
  return toTRPCError(new RealtimeError(code, `livehub: ${message}`));
}
