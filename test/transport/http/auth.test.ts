import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { Peer } from '../../helpers.js';
import { cleanup, KEY, newHub, OTHER_KEY, startApi } from './fixture.js';

/** The API key: who may call, compared in constant time, never echoed. */

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) };
});

const timingSafeEqual = vi.mocked(crypto.timingSafeEqual);

describe('the API key', () => {
  it('without a key, answers 401 with a JSON error saying where to send it, and publishes nothing', async () => {
    const api = await startApi();
    const peer = await Peer.open(api.ws);
    cleanup(() => peer.close());
    await peer.subscribe('news');
    const answer = await api.call('POST', '/publish', { channel: 'news', type: 't' }, { 'X-API-Key': '' });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="livehub"');
    expect(answer.body).toEqual({ error: { code: 'unauthorized', message: 'send the API key in the X-API-Key header (or Authorization: Bearer <key>)' } });
    expect((await api.call('GET', '/history?channel=news')).body.position.offset).toBe(0);
    expect(peer.messages).toEqual([]);
  });

  it('with a wrong key, answers 401 without echoing the key, and logs the refusal without it', async () => {
    const api = await startApi();
    const wrong = `${KEY.slice(0, -1)}X`;
    const attempts: Array<Record<string, string>> = [{ 'X-API-Key': wrong }, { Authorization: `Bearer ${wrong}` }, { 'X-API-Key': 'short' }];
    for (const headers of attempts) {
      const answer = await api.call('GET', '/info', undefined, headers);
      expect(answer.status).toBe(401);
      expect(answer.body.error).toEqual({ code: 'unauthorized', message: 'the API key is not valid' });
      expect(answer.text).not.toContain(wrong);
    }
    const refusals = api.logs.filter((l) => l.code === 'api_key_refused');
    expect(refusals).toHaveLength(1); // once per address and minute, however many
    expect(refusals[0]!.message).toContain('127.0.0.1');
    expect(refusals[0]!.message).not.toContain(wrong);
  });

  it('throttles wrong keys per address: after 10 it answers 429 with Retry-After, even to a right key, until a guess a second is earned back', async () => {
    const api = await startApi();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await api.call('GET', '/info', undefined, { 'X-API-Key': `wrong-key-number-${i}-padding` })).status);
    expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
    const throttled = await api.call('GET', '/info', undefined, { 'X-API-Key': KEY });
    expect(throttled.status).toBe(429);
    expect(throttled.body.error).toEqual({ code: 'rate_limited', message: 'too many wrong API keys from this address; retry after 1 s' });
    expect(throttled.headers.get('retry-after')).toBe('1');
    // One guess a second comes back: then the right key passes again.
    await expect.poll(async () => (await api.call('GET', '/info', undefined, { 'X-API-Key': KEY })).status, { timeout: 5000, interval: 200 }).toBe(200);
  });

  it('accepts the key in X-API-Key or as a Bearer token, and any key of a list', async () => {
    const api = await startApi({ api: { key: [KEY, OTHER_KEY] } });
    expect((await api.call('GET', '/info', undefined, { 'X-API-Key': KEY })).status).toBe(200);
    expect((await api.call('GET', '/info', undefined, { Authorization: `Bearer ${OTHER_KEY}` })).status).toBe(200);
    expect((await api.call('GET', '/info', undefined, { authorization: `bearer ${KEY}` })).status).toBe(200);
    expect((await api.call('GET', '/info', undefined, { Authorization: `Basic ${KEY}` })).status).toBe(401);
  });

  it('compares fixed-length digests with timingSafeEqual, against every configured key whichever matches', async () => {
    const api = await startApi({ api: { key: [KEY, OTHER_KEY] } });
    timingSafeEqual.mockClear();
    expect((await api.call('GET', '/info', undefined, { 'X-API-Key': KEY })).status).toBe(200);
    expect(timingSafeEqual).toHaveBeenCalledTimes(2);
    timingSafeEqual.mockClear();
    expect((await api.call('GET', '/info', undefined, { 'X-API-Key': 'x'.repeat(500) })).status).toBe(401);
    expect(timingSafeEqual).toHaveBeenCalledTimes(2);
    for (const [a, b] of timingSafeEqual.mock.calls) {
      expect((a as Buffer).length).toBe(32);
      expect((b as Buffer).length).toBe(32);
    }
  });
});

describe('hub.api options', () => {
  it('throw a TypeError for a missing, short or non-string key', async () => {
    const hub = newHub({ logger: false });
    expect(() => hub.api({} as never)).toThrow(new TypeError('livehub: hub.api() needs a key: { key: process.env.LIVEHUB_API_KEY } (a string of at least 16 characters, or an array of them to rotate keys)'));
    expect(() => hub.api({ key: 'secret' })).toThrow('key is too short (6 characters): use at least 16');
    expect(() => hub.api({ key: [KEY, 'x'] })).toThrow('key[1] is too short');
    expect(() => hub.api({ key: [] })).toThrow(TypeError);
    expect(() => hub.api({ key: 12345678901234567 as never })).toThrow('key must be a string, got number');
    expect(() => hub.api(undefined as never)).toThrow(TypeError);
  });

  it('throw a TypeError for an unknown option, naming the closest, and for bad limits', async () => {
    const hub = newHub({ logger: false });
    expect(() => hub.api({ key: KEY, maxBodysize: 10 } as never)).toThrow(new TypeError("livehub: unknown option 'maxBodysize' for hub.api(); did you mean 'maxBodySize'?"));
    expect(() => hub.api({ key: KEY, maxBodySize: 0 })).toThrow('maxBodySize must be a whole number of at least 1, got 0');
    expect(() => hub.api({ key: KEY, rateLimit: -1 })).toThrow('rateLimit must be a number of commands per second above 0');
    expect(() => hub.api({ key: KEY, maxBatch: 50, rateLimitBurst: 10 })).toThrow('rateLimitBurst must be a number at least maxBatch (50)');
    expect(() => hub.api({ key: KEY, rateLimit: Infinity })).not.toThrow();
  });
});
