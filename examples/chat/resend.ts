/**
 * Sending a chat message over HTTP (`POST /messages`) until the server has it, without ever showing it
 * twice. The message's `id` is the publish's idempotency key on the server: when the server answers
 * 503 (`unavailable`: not published) or 504 (`outcome_unknown`: the store did not answer in time, so
 * it may have been published), the same message with the same id goes again after the server's
 * Retry-After, and a copy the store already took is answered with its position instead of published
 * twice. No server-only imports: the page uses this file too.
 */

export interface OutgoingMessage {
  /** Unique per message, the same on every resend: 8-64 letters, digits, `_` or `-`. */
  id: string;
  body: string;
  /** Open mode only: the name the page declared. */
  author?: string;
}

export interface SendOptions {
  /** Where the chat is (`''`: this page's origin). */
  base?: string;
  /** Sends in all, the first included. @default 5 */
  attempts?: number;
  /** The longest wait between two sends, in ms, whatever Retry-After says. @default 30000 */
  maxWait?: number;
  /** Told before each wait: why the last send failed and how long until the next. */
  onRetry?: (reason: string, waitMs: number) => void;
  fetch?: typeof fetch;
}

/** Codes after which the same message may (and should) be sent again with the same id. */
export const RESEND_CODES: readonly string[] = ['unavailable', 'outcome_unknown', 'timeout', 'connection_lost', 'closed'];

/** Posts the message; resolves with its stream position once the server has it, or rejects saying why not. */
export async function sendMessage(message: OutgoingMessage, options: SendOptions = {}): Promise<{ offset: number; epoch: string }> {
  const { base = '', attempts = 5, maxWait = 30_000, onRetry, fetch: post = fetch } = options;
  let reason = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let wait = Math.min(maxWait, 1000 * 2 ** (attempt - 1));
    try {
      const response = await post(`${base}/messages`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(message),
      });
      const answer = await response.json().catch(() => null) as { offset?: number; epoch?: string; error?: { code: string; message: string } } | null;
      if (response.ok && answer?.offset !== undefined) return { offset: answer.offset, epoch: answer.epoch! };
      reason = answer?.error ? `${answer.error.code}: ${answer.error.message}` : `HTTP ${response.status}`;
      if (response.status !== 503 && response.status !== 504) throw new Error(reason);
      const after = Number(response.headers.get('retry-after'));
      if (after > 0) wait = Math.min(maxWait, after * 1000);
    } catch (error) {
      // A network failure: the request may or may not have arrived; the same id makes resending safe.
      if (!(error instanceof TypeError)) throw error;
      reason = `the server could not be reached (${error.message})`;
    }
    if (attempt === attempts) break;
    onRetry?.(reason, wait);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  throw new Error(`not sent after ${attempts} tries: ${reason}`);
}
