import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../pkg/index.js';
import { hostileHub } from './fixture.js';
import { encodeClientFrame, RawPeer } from './raw.js';

describe('hostile messages', () => {
  it.each([
    ['truncated JSON', '{"type":"subscribe","channel":', 'bad_json'],
    ['a bare string', '"subscribe"', 'bad_request'],
    ['null', 'null', 'bad_request'],
    ['a number type', '{"type":1}', 'bad_request'],
    ['an array channel', '{"type":"subscribe","channel":["a"]}', 'invalid_channel'],
    ['an object event', '{"type":"publish","channel":"a","event":{}}', 'invalid_type'],
    ['a 100-character id', JSON.stringify({ type: 'ping', id: 'i'.repeat(100) }), 'bad_request'],
    ['an unsafe integer id', '{"type":"ping","id":9007199254740993}', 'bad_request'],
  ])('answers %s with %s and stays usable', async (_name, text, code) => {
    const h = await hostileHub();
    const peer = await RawPeer.open(h.port);
    peer.text(text);
    expect((await peer.next((m) => m.type === 'error')).code).toBe(code);
    peer.text({ type: 'ping', id: 1 });
    expect(await peer.next((m) => m.type === 'pong')).toEqual({ type: 'pong', id: 1 });
    peer.destroy();
    await h.finish();
  });

  it('refuses 20,000 nested arrays in 40 KB with too_deep, cheaply, and the process stays up', async () => {
    const h = await hostileHub({ canPublish: () => true });
    const peer = await RawPeer.open(h.port);
    const nested = '['.repeat(20_000) + ']'.repeat(20_000);
    peer.text(`{"type":"publish","channel":"c","event":"e","data":${nested},"id":"deep"}`);
    expect(await peer.next((m) => m.type === 'error')).toMatchObject({ code: 'too_deep' });
    const ok = '['.repeat(30) + ']'.repeat(30);
    peer.text(`{"type":"publish","channel":"c","event":"e","data":${ok},"id":"fine"}`);
    expect(await peer.next((m) => m.type === 'ack')).toMatchObject({ type: 'ack', id: 'fine', offset: 1 });
    peer.destroy();
    await h.finish();
  });

  it('refuses more object keys than maxJsonKeys with too_many_keys', async () => {
    const h = await hostileHub({ maxJsonKeys: 100 });
    const peer = await RawPeer.open(h.port);
    const wide = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i]));
    peer.text({ type: 'publish', channel: 'c', event: 'e', data: wide });
    expect(await peer.next((m) => m.type === 'error')).toMatchObject({ code: 'too_many_keys' });
    peer.destroy();
    await h.finish();
  });

  it('is not polluted by __proto__, constructor or prototype keys, names or types', async () => {
    const h = await hostileHub({ canPublish: () => true });
    const peer = await RawPeer.open(h.port);
    peer.text('{"type":"subscribe","channel":"c","__proto__":{"isAdmin":true},"constructor":{"prototype":{"polluted":1}}}');
    await peer.next((m) => m.type === 'subscribed');
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype']) {
      peer.text({ type: 'subscribe', channel: name });
      peer.text({ type: name });
    }
    peer.text('{"type":"publish","channel":"c","event":"e","data":{"__proto__":{"polluted":true}},"id":1}');
    await peer.next((m) => m.type === 'ack');
    await peer.sync();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    const unknown = peer.messages().filter((m) => m.code === 'unknown_type');
    expect(unknown).toHaveLength(5);
    // The published data went out as data, with its "__proto__" key intact as a plain key.
    const delivered = peer.messages().find((m) => m.channel === 'c' && 'data' in m);
    expect(Object.keys(delivered.data)).toEqual(['__proto__']);
    peer.destroy();
    await h.finish();
  });

  it.each([
    ['empty', ''], ['a space', 'a b'], ['a newline', 'a\nb'], ['a quote', 'a"b'], ['a NUL', 'a\u0000b'],
    ['non-ASCII', 'caf\u00e9'], ['an emoji', '\u{1F600}'], ['256 characters', 'c'.repeat(256)], ['"**"', '**'],
  ])('refuses the channel name %s with invalid_channel', async (_name, channel) => {
    const h = await hostileHub();
    const peer = await RawPeer.open(h.port);
    peer.text({ type: 'subscribe', channel, id: 'n' });
    expect(await peer.next((m) => m.type === 'error')).toMatchObject({ code: 'invalid_channel', id: 'n' });
    peer.destroy();
    await h.finish();
  });

  it('answers every request id exactly once when one write subscribes to a channel twice', async () => {
    const h = await hostileHub();
    const peer = await RawPeer.open(h.port);
    const twice = [1, 2, 3].map((id) => JSON.stringify({ type: 'subscribe', channel: 'dup', id }));
    peer.socket.write(Buffer.concat(twice.map((text) => encodeClientFrame({ opcode: 1, payload: text }))));
    await peer.next((m) => m.id === 1);
    await peer.sync();
    const answers = peer.messages().filter((m) => m.id !== undefined).sort((a, b) => a.id - b.id);
    expect(answers.map((m) => [m.id, m.type, m.code])).toEqual([
      [1, 'subscribed', undefined], [2, 'error', 'already_subscribed'], [3, 'error', 'already_subscribed'],
    ]);
    h.hub.publish('dup', 'm', 'once');
    await peer.next((m) => m.channel === 'dup' && m.type === 'm');
    await peer.sync();
    expect(peer.messages().filter((m) => m.channel === 'dup' && m.type === 'm')).toHaveLength(1);
    peer.destroy();
    await h.finish();
  });

  it('stops a subscribe flood at maxChannelsPerClient with too_many_channels', async () => {
    const h = await hostileHub({ maxChannelsPerClient: 128 });
    const peer = await RawPeer.open(h.port);
    for (let i = 0; i < 150; i++) peer.text({ type: 'subscribe', channel: `flood:${i}` });
    await peer.next((m) => m.code === 'too_many_channels');
    await peer.sync();
    expect(peer.messages().filter((m) => m.type === 'subscribed')).toHaveLength(128);
    expect(peer.messages().filter((m) => m.code === 'too_many_channels')).toHaveLength(22);
    expect(h.hub.info().channels).toBe(129); // 128 + the canary's
    peer.destroy();
    await h.finish();
  });

  it('answers a publish flood with rate_limited, then closes it with 4003', async () => {
    const h = await hostileHub({ canPublish: () => true, rateLimit: 20, rateLimitBurst: 40 });
    const peer = await RawPeer.open(h.port);
    for (let i = 0; i < 500; i++) peer.text({ type: 'publish', channel: 'spam', event: 'e', data: i });
    expect(await peer.closeCode()).toBe(CloseCode.RateLimited);
    expect(peer.messages().some((m) => m.code === 'rate_limited')).toBe(true);
    await h.finish();
  });

  it('denies private- and presence- channels without an authorize hook, with a frame, not a close', async () => {
    const h = await hostileHub();
    const peer = await RawPeer.open(h.port);
    for (const channel of ['private-payroll', 'presence-room', 'user:alice']) {
      peer.text({ type: 'subscribe', channel, id: channel });
      expect(await peer.next((m) => m.type === 'error' && m.id === channel)).toMatchObject({ code: 'forbidden', channel });
    }
    peer.text({ type: 'subscribe', channel: 'public', id: 'p' });
    expect(await peer.next((m) => m.type === 'subscribed')).toMatchObject({ channel: 'public' });
    peer.destroy();
    await h.finish();
  });
});
