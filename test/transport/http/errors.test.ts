import { coreOf } from '../../../pkg/hub.js';
import { describe, expect, it } from 'vitest';
import type { HistoryPolicy, PublishOptions, PublishResult } from '../../../pkg/engine/engine.js';
import { MemoryEngine } from '../../../pkg/engine/memory.js';
import { createHttpApi } from '../../../pkg/transport/http/api.js';
import { KEY, startApi } from './fixture.js';

/** Bad requests: each gets a JSON error with a code, a real status, and a message naming what to fix. */

describe('requests the API cannot take', () => {
  it('answers 404 for an unknown endpoint, listing the endpoints', async () => {
    const api = await startApi();
    const answer = await api.call('POST', '/publsh', { channel: 'a', type: 't' });
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('not_found');
    expect(answer.body.error.message).toContain('no endpoint POST /publsh; the endpoints are POST /publish, POST /broadcast, GET /history');
  });

  it('answers 405 with an Allow header for the wrong method', async () => {
    const api = await startApi();
    const get = await api.call('GET', '/publish');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(get.body.error).toEqual({ code: 'method_not_allowed', message: '/publish takes POST, not GET' });
    const post = await api.call('POST', '/info', {});
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });

  it('answers 415 for a POST that is not application/json', async () => {
    const api = await startApi();
    const form = await api.call('POST', '/publish', 'channel=a&type=t', { 'Content-Type': 'application/x-www-form-urlencoded', 'X-API-Key': KEY });
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe('unsupported_media_type');
    expect(form.body.error.message).toContain('Content-Type: application/json; got "application/x-www-form-urlencoded"');
    const charset = await api.call('POST', '/publish', { channel: 'a', type: 't' }, { 'Content-Type': 'application/json; charset=utf-8', 'X-API-Key': KEY });
    expect(charset.status).toBe(200);
  });

  it('answers 400 bad_json for a body that is not JSON, empty, or not UTF-8', async () => {
    const api = await startApi();
    const broken = await api.call('POST', '/publish', '{"channel": "a",');
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe('bad_json');
    expect(broken.body.error.message).toMatch(/^the body is not valid JSON: /);
    expect((await api.call('POST', '/publish', '')).body.error).toEqual({ code: 'bad_json', message: 'the body is empty: send a JSON object' });
    const latin1 = await fetch(`${api.base}/publish`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': KEY },
      body: Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]), // {"é":1} in Latin-1
    });
    expect(latin1.status).toBe(400);
    expect(await latin1.json()).toEqual({ error: { code: 'bad_json', message: 'the body is not valid UTF-8' } });
  });

  it('answers 400 for JSON that is not an object', async () => {
    const api = await startApi();
    for (const [body, kind] of [['[1]', 'an array'], ['"hi"', 'string'], ['null', 'null']] as const) {
      expect((await api.call('POST', '/publish', body)).body.error).toEqual({ code: 'bad_request', message: `the body must be a JSON object, got ${kind}` });
    }
  });

  it('answers 400 naming the field and what is allowed for a missing or invalid channel, type or id', async () => {
    const api = await startApi();
    const cases: Array<[unknown, string, string]> = [
      [{ type: 't' }, 'invalid_channel', 'channel is required: 1-255 characters of A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $, or "*" for every client'],
      [{ channel: 'has space', type: 't' }, 'invalid_channel', 'channel "has space" is not a valid channel name: use 1-255 characters of'],
      [{ channel: 5, type: 't' }, 'invalid_channel', 'channel 5 is not a valid channel name'],
      [{ channel: '#control', type: 't' }, 'invalid_channel', 'channel "#control" starts with "#": those channels are the hub\'s own'],
      [{ channel: 'a' }, 'invalid_type', 'type is required: 1-255 characters of'],
      [{ channel: 'a', type: 'a b' }, 'invalid_type', 'type "a b" is not a valid message type'],
      [{ channel: 'a', type: 't', id: '' }, 'bad_request', 'id must be a string of 1-128 characters, got ""'],
      [{ channel: 'a', type: 't', id: 7 }, 'bad_request', 'id must be a string of 1-128 characters, got 7'],
      [{ channel: 'a', type: 't', idd: 'x' }, 'bad_request', "unknown field 'idd'; did you mean 'id'?"],
      [{ channel: 'a', type: 't', zzzzzz: 1 }, 'bad_request', "unknown field 'zzzzzz'; the fields are 'channel', 'type', 'data', 'id'"],
    ];
    for (const [body, code, message] of cases) {
      const answer = await api.call('POST', '/publish', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code, JSON.stringify(body)).toBe(code);
      expect(answer.body.error.message, JSON.stringify(body)).toContain(message);
    }
    expect((await api.call('GET', '/history?channel=a')).body.position.offset).toBe(0);
  });

  it('answers 400 for a body nested deeper, or with more keys, than the hub accepts, before parsing it', async () => {
    const api = await startApi({ hub: { maxJsonDepth: 8, maxJsonKeys: 20 } });
    const deep = await api.call('POST', '/publish', { channel: 'a', type: 't', data: JSON.parse('['.repeat(10) + ']'.repeat(10)) });
    expect(deep.body.error).toEqual({ code: 'too_deep', message: 'the body nests deeper than 8 levels' });
    const wide = await api.call('POST', '/publish', { channel: 'a', type: 't', data: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i])) });
    expect(wide.body.error).toEqual({ code: 'too_many_keys', message: 'the body has more than 20 object keys' });
  });
});

class BrokenChannelEngine extends MemoryEngine {
  override publish(channel: string, type: string, dataJson: string, policy: HistoryPolicy, options?: PublishOptions): PublishResult {
    if (channel === 'broken') throw Object.assign(new Error('the store of "broken" is down'), { code: 'unavailable' });
    return super.publish(channel, type, dataJson, policy, options);
  }
}

describe('failures behind the API', () => {
  it('answers a broadcast that failed on some channels with each channel\'s result, and 503 when all failed', async () => {
    const api = await startApi({ hub: { engine: new BrokenChannelEngine() } });
    const partial = await api.call('POST', '/broadcast', { channels: ['fine', 'broken'], type: 't' });
    expect(partial.status).toBe(200);
    expect(partial.body.results[0]).toEqual({ channel: 'fine', offset: 1, epoch: expect.any(String) });
    expect(partial.body.results[1]).toMatchObject({ channel: 'broken', error: { code: 'unavailable', message: expect.stringContaining('the store of "broken" is down') } });
    const all = await api.call('POST', '/broadcast', { channels: ['broken'], type: 't' });
    expect(all.status).toBe(503);
    expect(all.headers.get('retry-after')).toBe('1');
    expect(api.logs.some((l) => l.code === 'publish_failed')).toBe(true);
  });

  it('answers 500 internal without details to an unexpected failure, and logs it with its stack', async () => {
    const api = await startApi({ mount: 'standalone' });
    coreOf(api.hub).channelList = () => { throw new Error('secret internals broke'); };
    const response = await api.call('GET', '/channels');
    expect(response.status).toBe(500);
    expect(response.body).toEqual({ error: { code: 'internal', message: 'the request failed on the server; the error is logged there' } });
    expect(api.logs.map(({ level, code, message }) => ({ level, code, message }))).toContainEqual({ level: 'error', code: 'api_failed', message: 'livehub: an HTTP API request failed unexpectedly: secret internals broke' });
  });
});
