/**
 * Webhook signatures. Every request carries
 *
 *     X-Livehub-Timestamp: <unix seconds when it was sent>
 *     X-Livehub-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the shared secret>
 *
 * The timestamp is inside the signed text, so a receiver that also refuses timestamps further than a
 * tolerance from its clock refuses a captured request replayed later. `verifyWebhook` does both, with
 * `crypto.timingSafeEqual`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { WebhookPayload } from './payload.js';

export const TIMESTAMP_HEADER = 'X-Livehub-Timestamp';
export const SIGNATURE_HEADER = 'X-Livehub-Signature';
/** Seconds a timestamp may be away from the receiver's clock, by default: 5 minutes. */
export const DEFAULT_TOLERANCE = 300;

/** Why a request failed verification (`WebhookVerificationError.code`). */
export type WebhookVerificationCode =
  | 'missing_timestamp' | 'bad_timestamp' | 'stale_timestamp'
  | 'missing_signature' | 'bad_signature' | 'bad_payload';

export class WebhookVerificationError extends Error {
  constructor(readonly code: WebhookVerificationCode, message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

type Body = string | Uint8Array;

function hmac(secret: string, timestamp: string, body: Body): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`, 'utf8').update(body).digest();
}

/** The headers that sign `body` at `timestamp` (unix seconds; default now). */
export function signWebhook(secret: string, body: Body, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  const stamp = String(timestamp);
  return {
    [TIMESTAMP_HEADER]: stamp,
    [SIGNATURE_HEADER]: `sha256=${hmac(secret, stamp, body).toString('hex')}`,
  };
}

/** Node's `req.headers` (lower-case keys), a Fetch `Headers`, or a plain object with any case. */
export type HeadersLike = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

function header(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const lower = name.toLowerCase();
  const key = lower in record ? lower : Object.keys(record).find((k) => k.toLowerCase() === lower);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value.join(',') : value;
}

export interface VerifyOptions {
  /** Seconds the timestamp may differ from now, either way. Default 300. */
  tolerance?: number;
  /** The receiver's clock, in unix seconds (for tests). Default now. */
  now?: number;
}

/**
 * Checks a webhook request and returns its parsed payload. `body` is the raw body exactly as received
 * (a string or bytes: with Express, `express.raw({ type: 'application/json' })`), not re-serialized
 * JSON. `secret` may be a list while rotating secrets: any of them verifies. Throws a
 * `WebhookVerificationError` whose `code` says why (answer 400 or 401 then; livehub does not retry it).
 */
export function verifyWebhook(secret: string | readonly string[], body: Body, headers: HeadersLike, options: VerifyOptions = {}): WebhookPayload {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (!Array.isArray(secrets) || secrets.length === 0 || !secrets.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new TypeError('livehub: verifyWebhook() needs the webhook secret (a non-empty string, or a list of them)');
  }
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw new TypeError(`livehub: verifyWebhook() needs the raw body as a string or bytes, got ${body === null ? 'null' : typeof body} (with Express, use express.raw({ type: 'application/json' }) on the webhook route)`);
  }
  if (headers === null || typeof headers !== 'object') throw new TypeError('livehub: verifyWebhook() needs the request headers (req.headers)');
  const { tolerance = DEFAULT_TOLERANCE, now = Date.now() / 1000 } = options;
  if (typeof tolerance !== 'number' || !(tolerance > 0)) throw new TypeError(`livehub: verifyWebhook() option 'tolerance' must be a positive number of seconds, got ${String(tolerance)}`);

  const stamp = header(headers, TIMESTAMP_HEADER);
  if (stamp === undefined || stamp === '') throw new WebhookVerificationError('missing_timestamp', `livehub: the webhook request has no ${TIMESTAMP_HEADER} header`);
  if (!/^\d{1,12}$/.test(stamp)) throw new WebhookVerificationError('bad_timestamp', `livehub: ${TIMESTAMP_HEADER} must be unix seconds, got ${JSON.stringify(stamp.slice(0, 40))}`);
  const skew = Math.abs(now - Number(stamp));
  if (skew > tolerance) {
    throw new WebhookVerificationError('stale_timestamp', `livehub: the webhook timestamp is ${Math.round(skew)} s away from this clock (tolerance ${tolerance} s): a replay, or clocks out of sync`);
  }

  const signature = header(headers, SIGNATURE_HEADER);
  if (signature === undefined || signature === '') throw new WebhookVerificationError('missing_signature', `livehub: the webhook request has no ${SIGNATURE_HEADER} header`);
  const presented = signature.split(',').map((part) => part.trim())
    .filter((part) => /^sha256=[0-9a-f]{64}$/i.test(part))
    .map((part) => Buffer.from(part.slice(7), 'hex'));
  let matched = false;
  // Every secret against every presented signature, whatever matched: the time says nothing.
  for (const key of secrets) {
    const expected = hmac(key, stamp, body);
    for (const candidate of presented) if (timingSafeEqual(expected, candidate)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError('bad_signature', `livehub: the webhook signature does not match the body (a wrong secret, or a body changed, e.g. parsed and re-serialized before verifying)`);

  let payload: unknown;
  try {
    payload = JSON.parse(typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    throw new WebhookVerificationError('bad_payload', 'livehub: the webhook body is signed but is not JSON');
  }
  if (payload === null || typeof payload !== 'object' || !Array.isArray((payload as { events?: unknown }).events)) {
    throw new WebhookVerificationError('bad_payload', 'livehub: the webhook body is signed but is not {"events": [...]}');
  }
  return payload as WebhookPayload;
}
