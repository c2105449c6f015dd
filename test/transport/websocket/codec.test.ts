import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// ws's own receiver: the parser our frames must satisfy.
import * as wsModule from 'ws';
import { headerLength, jsCodec } from '../../../pkg/transport/websocket/codec.js';
import { createWasmCodec, instantiateCodec } from '../../../pkg/transport/websocket/wasm-codec.js';

const wasm = createWasmCodec();
const bytes = (...values: number[]) => Buffer.from(values);

/** Parses server frames back with ws's Receiver; returns the text messages in order. */
function parseWithWs(frames: Buffer): string[] {
  const Receiver = (wsModule as unknown as { Receiver: new (options: object) => import('node:stream').Writable }).Receiver;
  const receiver = new Receiver({ isServer: false, maxPayload: 0 });
  const out: string[] = [];
  let failure: Error | null = null;
  receiver.on('message', (data: Buffer, isBinary: boolean) => out.push(isBinary ? `<binary ${data.length}>` : data.toString('utf8')));
  receiver.on('error', (error: Error) => { failure = error; });
  receiver.write(frames);
  if (failure) throw failure;
  return out;
}

describe('frame codec', () => {
  it.each([
    ['an empty payload', '', bytes(0x81, 0x00)],
    ['"hi"', 'hi', bytes(0x81, 0x02, 0x68, 0x69)],
    ['a 125-byte payload (7-bit length)', 'a'.repeat(125), Buffer.concat([bytes(0x81, 125), Buffer.from('a'.repeat(125))])],
    ['a 126-byte payload (16-bit length)', 'a'.repeat(126), Buffer.concat([bytes(0x81, 126, 0x00, 0x7e), Buffer.from('a'.repeat(126))])],
    ['a 65535-byte payload', 'a'.repeat(65535), Buffer.concat([bytes(0x81, 126, 0xff, 0xff), Buffer.from('a'.repeat(65535))])],
    ['a 65536-byte payload (64-bit length)', 'a'.repeat(65536), Buffer.concat([bytes(0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0), Buffer.from('a'.repeat(65536))])],
    ['"é€" in UTF-8', 'é€', bytes(0x81, 0x05, 0xc3, 0xa9, 0xe2, 0x82, 0xac)],
  ])('encodes %s as the exact bytes of RFC 6455', (_name, text, expected) => {
    expect(jsCodec.encodeBatch([text]).equals(expected)).toBe(true);
    expect(wasm.encodeBatch([text]).equals(expected)).toBe(true);
    if (text.length < 200) expect(jsCodec.encodeBatch([text])).toEqual(expected); // readable diff for small ones
  });

  it('lays a batch out as consecutive whole frames, never newline-joined', () => {
    const frames = jsCodec.encodeBatch(['{"a":1}', '{"b":2}']);
    expect(frames).toEqual(Buffer.concat([bytes(0x81, 7), Buffer.from('{"a":1}'), bytes(0x81, 7), Buffer.from('{"b":2}')]));
    expect(parseWithWs(frames)).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('agrees with the WASM codec byte for byte on sizes 0 to 70,000 and random batches, and ws parses every frame', () => {
    const sized = fc.integer({ min: 0, max: 70_000 }).chain((n) =>
      fc.constantFrom('a', 'é', '€', '😀', '"').map((unit) => unit.repeat(Math.ceil(n / Buffer.byteLength(unit))).slice(0, n)));
    const payload = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), sized, fc.json());
    fc.assert(fc.property(fc.array(payload, { maxLength: 12 }), (batch) => {
      const expected = jsCodec.encodeBatch(batch);
      expect(wasm.encodeBatch(batch).equals(expected)).toBe(true);
      const total = batch.reduce((sum, s) => { const n = Buffer.byteLength(s); return sum + headerLength(n) + n; }, 0);
      expect(expected.length).toBe(total);
      const parsed = parseWithWs(expected);
      expect(parsed.length).toBe(batch.length);
      parsed.forEach((text, i) => expect(text === Buffer.from(batch[i]!).toString('utf8')).toBe(true));
    }), { numRuns: 150 });
  });

  it('masks and unmasks as RFC 6455 section 5.3 defines, for every length and key', () => {
    const codec = instantiateCodec();
    const base = codec.heapBase();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), (data, key) => {
      const memory = new Uint8Array(codec.memory.buffer);
      memory.set(data, base);
      codec.mask(base, data.length, Buffer.from(key).readUInt32LE(0));
      const expected = Buffer.from(data.map((byte, i) => byte ^ key[i % 4]!));
      expect(Buffer.from(codec.memory.buffer, base, data.length)).toEqual(expected);
      codec.mask(base, data.length, Buffer.from(key).readUInt32LE(0));
      expect(Buffer.from(codec.memory.buffer, base, data.length)).toEqual(Buffer.from(data));
    }));
  });

  it('returns buffers that stay intact after WASM memory grows', () => {
    const codec = instantiateCodec();
    const own = createWasmCodec(codec);
    const small = own.encodeBatch(['{"before":"grow"}']);
    const copy = Buffer.from(small);
    const pagesBefore = codec.memory.buffer.byteLength;
    own.encodeBatch(['x'.repeat(3 * 1024 * 1024)]);
    expect(codec.memory.buffer.byteLength).toBeGreaterThan(pagesBefore);
    expect(small).toEqual(copy);
    expect(small.buffer).not.toBe(codec.memory.buffer);
  });

  it('loads the debug build too, which encodes the same bytes', () => {
    const debug = createWasmCodec(instantiateCodec(true));
    expect(debug.encodeBatch(['hi', 'a'.repeat(300)])).toEqual(jsCodec.encodeBatch(['hi', 'a'.repeat(300)]));
  });
});
