/**
 * One attempt at POSTing a signed batch, classified: delivered (2xx), retry (network error, timeout,
 * 5xx, 429), or rejected (a 4xx other than 429: the endpoint refused this request and would refuse it
 * again; or a 3xx: redirects are not followed, since fetch would turn the POST into a GET without the
 * body).
 */
import { signWebhook } from './signature.js';
import type { WebhookFetch } from './options.js';
import { parseRetryAfter } from './backoff.js';

export const DELIVERY_HEADER = 'X-Livehub-Delivery';

export type Attempt =
  | { outcome: 'delivered'; status: number }
  | { outcome: 'retry'; status?: number; retryAfter: number | null; reason: string }
  | { outcome: 'rejected'; status: number };

export interface AttemptRequest {
  fetch: WebhookFetch;
  url: string;
  secret: string;
  body: string;
  /** The batch's id: the same on every attempt, so a receiver can tell a retry from a new batch. */
  delivery: string;
  timeout: number;
  /** Aborts the attempt (the handle was closed with a deadline that passed). */
  signal?: AbortSignal;
}

export async function attempt(request: AttemptRequest): Promise<Attempt> {
  const { fetch, url, secret, body, delivery, timeout } = request;
  const timer = AbortSignal.timeout(timeout);
  const signal = request.signal ? AbortSignal.any([timer, request.signal]) : timer;
  let response: Awaited<ReturnType<WebhookFetch>>;
  try {
    // Signed at each attempt: a retry minutes later still has a fresh timestamp.
    response = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'livehub-webhooks',
        [DELIVERY_HEADER]: delivery,
        ...signWebhook(secret, body),
      },
      body,
      redirect: 'manual',
      signal,
    });
  } catch (error) {
    const reason = timer.aborted ? `no answer within ${timeout} ms (timeout)` : describe(error);
    return { outcome: 'retry', retryAfter: null, reason };
  }
  if (response === null || typeof response !== 'object' || typeof response.status !== 'number') {
    return { outcome: 'retry', retryAfter: null, reason: 'the fetch function resolved without a response' };
  }
  // The body is not needed: release the connection.
  try {
    await response.body?.cancel();
  } catch {
    // Already consumed or closed: nothing to release.
  }
  const { status } = response;
  if (status === 429 || status >= 500) {
    return { outcome: 'retry', status, retryAfter: parseRetryAfter(response.headers?.get('retry-after')), reason: `HTTP ${status}` };
  }
  if (status >= 200 && status < 300) return { outcome: 'delivered', status };
  return { outcome: 'rejected', status };
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const detail = cause instanceof Error ? `: ${(cause as { code?: string }).code ?? cause.message}` : '';
  return `${error.message}${detail}`;
}
