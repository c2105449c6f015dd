/**
 * RFC 6455 server frame encoding: unmasked, FIN set, one frame per message. The hub encodes each
 * published message once and lays a turn's messages for a channel into one buffer that every
 * subscriber of the channel shares. Frames are batched in a write, never joined inside one frame.
 *
 * This file is the JavaScript reference codec; `wasm-codec.ts` is the AssemblyScript one, which must
 * produce identical bytes.
 */

import type { FrameCodec } from '../index.js';

export type { FrameCodec };

export const OPCODE_TEXT = 0x1;


/** Bytes of the header of an unmasked frame carrying `length` payload bytes: 2, 4 or 10. */
export function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/** Writes an unmasked FIN frame header at `offset`; returns the offset just past it. */
export function writeHeader(target: Uint8Array, offset: number, opcode: number, length: number): number {
  target[offset] = 0x80 | opcode;
  if (length < 126) {
    target[offset + 1] = length;
    return offset + 2;
  }
  if (length < 65536) {
    target[offset + 1] = 126;
    target[offset + 2] = length >>> 8;
    target[offset + 3] = length & 0xff;
    return offset + 4;
  }
  target[offset + 1] = 127;
  // Lengths beyond 2^53 cannot occur in JavaScript; the top bytes are written for completeness.
  const high = Math.floor(length / 0x100000000);
  const low = length >>> 0;
  target[offset + 2] = (high >>> 24) & 0xff;
  target[offset + 3] = (high >>> 16) & 0xff;
  target[offset + 4] = (high >>> 8) & 0xff;
  target[offset + 5] = high & 0xff;
  target[offset + 6] = low >>> 24;
  target[offset + 7] = (low >>> 16) & 0xff;
  target[offset + 8] = (low >>> 8) & 0xff;
  target[offset + 9] = low & 0xff;
  return offset + 10;
}

/** The JavaScript codec. Stateless, so one instance serves every hub. */
export const jsCodec: FrameCodec = {
  name: 'js',
  encodeBatch(payloads: readonly string[]): Buffer {
    const lengths = new Array<number>(payloads.length);
    let total = 0;
    for (let i = 0; i < payloads.length; i++) {
      const n = Buffer.byteLength(payloads[i]!, 'utf8');
      lengths[i] = n;
      total += headerLength(n) + n;
    }
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i < payloads.length; i++) {
      at = writeHeader(out, at, OPCODE_TEXT, lengths[i]!);
      at += out.utf8Write(payloads[i]!, at, lengths[i]!);
    }
    return out;
  },
};

declare global {
  interface Buffer {
    /** Node's fast UTF-8 writer (public since Node 0.x, untyped in @types/node). */
    utf8Write(value: string, offset: number, length: number): number;
  }
}
