import { describe, expect, it } from 'vitest';
import { encodePublication, exceptedClient, messageOf } from '../../pkg/core/encode.js';
import type { Publication } from '../../pkg/engine/engine.js';

const base: Publication = { channel: 'room:1', offset: 7, epoch: 'e1', type: 'said', data: '{"text": "hi"}' };

describe('a publication on the wire', () => {
  it('is {"channel","type","data","offset"} with the data text as published', () => {
    expect(encodePublication(base)).toBe('{"channel":"room:1","type":"said","data":{"text": "hi"},"offset":7}');
  });

  it('adds tags, then the trace stamp, then the publisher last, and leaves out empty tags', () => {
    const full: Publication = {
      ...base, tags: { region: 'eu' }, trace: { ts: 1700000000000.7, tp: '00-ab-cd-01' }, from: { user: 'ann "a"', client: 'n1-2', echo: false },
    };
    expect(encodePublication(full)).toBe(
      '{"channel":"room:1","type":"said","data":{"text": "hi"},"offset":7,"tags":{"region":"eu"},"trace":{"ts":1700000000000,"tp":"00-ab-cd-01"},"from":{"user":"ann \\"a\\"","client":"n1-2","echo":false}}');
    expect(encodePublication({ ...base, tags: {}, from: { client: 'c' } })).toBe('{"channel":"room:1","type":"said","data":{"text": "hi"},"offset":7,"from":{"client":"c"}}');
    expect(encodePublication({ ...base, tags: undefined, trace: { ts: 5 } })).toBe('{"channel":"room:1","type":"said","data":{"text": "hi"},"offset":7,"trace":{"ts":5}}');
  });

  it('names the connection an except-self publication must not reach, and no other', () => {
    expect(exceptedClient({ ...base, from: { client: 'n1-2', echo: false } })).toBe('n1-2');
    expect(exceptedClient({ ...base, from: { client: 'n1-2' } })).toBeNull();
    expect(exceptedClient(base)).toBeNull();
  });

  it('parses back into the hub message a subscriber gets', () => {
    expect(messageOf({ ...base, tags: { k: 'v' } })).toEqual({ channel: 'room:1', type: 'said', data: { text: 'hi' }, offset: 7, tags: { k: 'v' } });
  });
});
