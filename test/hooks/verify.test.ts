import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook, WebhookVerificationError } from '../../pkg/hooks/index.js';

const secret = 'a-webhook-secret-of-some-length';
const body = JSON.stringify({ events: [{ id: '1', type: 'connection.opened', time: '2025-01-01T00:00:00.000Z', node: 'n', data: {} }] });
const now = 1_750_000_000;

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return (error as WebhookVerificationError).code;
  }
  throw new Error('accepted');
}

describe('verifyWebhook', () => {
  it('accepts what signWebhook signed and returns the parsed events', () => {
    const headers = lower(signWebhook(secret, body, now));
    expect(verifyWebhook(secret, body, headers, { now }).events[0]).toMatchObject({ id: '1', type: 'connection.opened' });
  });

  it('signs the HMAC-SHA256 of "<timestamp>.<body>" in hex', () => {
    const headers = signWebhook(secret, body, now);
    expect(headers['X-Livehub-Timestamp']).toBe(String(now));
    expect(headers['X-Livehub-Signature']).toBe(`sha256=${createHmac('sha256', secret).update(`${now}.${body}`).digest('hex')}`);
  });

  it('accepts the body as bytes, Fetch Headers, and headers in any case', () => {
    const signed = signWebhook(secret, body, now);
    expect(verifyWebhook(secret, Buffer.from(body), signed, { now }).events).toHaveLength(1);
    expect(verifyWebhook(secret, new TextEncoder().encode(body), new Headers(signed), { now }).events).toHaveLength(1);
  });

  it('accepts any secret of a list, to rotate secrets', () => {
    const headers = lower(signWebhook(secret, body, now));
    expect(verifyWebhook(['the-next-secret-of-some-length', secret], body, headers, { now }).events).toHaveLength(1);
  });

  it('refuses a body changed after signing', () => {
    const headers = lower(signWebhook(secret, body, now));
    expect(refusal(() => verifyWebhook(secret, body.replace('opened', 'closed'), headers, { now }))).toBe('bad_signature');
    expect(refusal(() => verifyWebhook(secret, JSON.stringify(JSON.parse(body), null, 2), headers, { now }))).toBe('bad_signature');
  });

  it('refuses another secret', () => {
    const headers = lower(signWebhook(secret, body, now));
    expect(refusal(() => verifyWebhook('another-secret-of-some-length', body, headers, { now }))).toBe('bad_signature');
  });

  it('refuses a timestamp changed after signing', () => {
    const headers = { ...lower(signWebhook(secret, body, now)), 'x-livehub-timestamp': String(now + 1) };
    expect(refusal(() => verifyWebhook(secret, body, headers, { now }))).toBe('bad_signature');
  });

  it('refuses a request older or newer than the tolerance, as a replay', () => {
    const headers = lower(signWebhook(secret, body, now - 301));
    expect(refusal(() => verifyWebhook(secret, body, headers, { now }))).toBe('stale_timestamp');
    expect(verifyWebhook(secret, body, headers, { now, tolerance: 600 }).events).toHaveLength(1);
    expect(refusal(() => verifyWebhook(secret, body, lower(signWebhook(secret, body, now + 301)), { now }))).toBe('stale_timestamp');
    expect(verifyWebhook(secret, body, lower(signWebhook(secret, body, now - 299)), { now }).events).toHaveLength(1);
  });

  it('names missing and malformed headers', () => {
    const signed = lower(signWebhook(secret, body, now));
    expect(refusal(() => verifyWebhook(secret, body, { 'x-livehub-signature': signed['x-livehub-signature']! }, { now }))).toBe('missing_timestamp');
    expect(refusal(() => verifyWebhook(secret, body, { ...signed, 'x-livehub-timestamp': 'yesterday' }, { now }))).toBe('bad_timestamp');
    expect(refusal(() => verifyWebhook(secret, body, { 'x-livehub-timestamp': String(now) }, { now }))).toBe('missing_signature');
    expect(refusal(() => verifyWebhook(secret, body, { ...signed, 'x-livehub-signature': 'sha256=abc' }, { now }))).toBe('bad_signature');
    expect(refusal(() => verifyWebhook(secret, body, { ...signed, 'x-livehub-signature': signed['x-livehub-signature']!.slice(7) }, { now }))).toBe('bad_signature');
  });

  it('refuses a signed body that is not a webhook payload', () => {
    for (const text of ['not json', '[1,2]', '{"events":{}}']) {
      expect(refusal(() => verifyWebhook(secret, text, lower(signWebhook(secret, text, now)), { now }))).toBe('bad_payload');
    }
  });

  it('throws a TypeError for a missing secret, a parsed body or a bad tolerance', () => {
    const headers = lower(signWebhook(secret, body, now));
    expect(() => verifyWebhook(undefined as never, body, headers)).toThrow(TypeError);
    expect(() => verifyWebhook([], body, headers)).toThrow(TypeError);
    expect(() => verifyWebhook(secret, JSON.parse(body), headers)).toThrow(/express\.raw/);
    expect(() => verifyWebhook(secret, body, headers, { tolerance: 0 })).toThrow(/tolerance/);
    expect(() => verifyWebhook(secret, body, undefined as never)).toThrow(TypeError);
  });
});
