// livehub's frame codec, compiled by asc to build/codec.wasm (see asconfig.json).
//
// Memory is managed by the host (pkg/realtime/wasm-codec.ts): it writes payloads and a table of
// their byte lengths above heapBase(), calls encodeBatch, and copies the frames out at once. No
// allocator runs here (runtime "stub"), so nothing in WASM memory outlives one call.

/** First byte of linear memory the host may use. */
export function heapBase(): usize {
  return __heap_base;
}

/** Bytes of the header of an unmasked server frame for a payload of `length` bytes. */
export function headerLength(length: u32): u32 {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/** Writes an unmasked FIN frame header for `opcode` and `length` at `dst`; returns the byte after it. */
export function writeHeader(dst: usize, opcode: u32, length: u32): usize {
  store<u8>(dst, <u8>(0x80 | opcode));
  if (length < 126) {
    store<u8>(dst, <u8>length, 1);
    return dst + 2;
  }
  if (length < 65536) {
    store<u8>(dst, 126, 1);
    store<u8>(dst, <u8>(length >>> 8), 2);
    store<u8>(dst, <u8>length, 3);
    return dst + 4;
  }
  // 64-bit length, network order; a wasm32 payload is below 2^32, so the top four bytes are zero.
  store<u8>(dst, 127, 1);
  store<u32>(dst, 0, 2);
  store<u32>(dst, bswap<u32>(length), 6);
  return dst + 10;
}

/**
 * Lays `count` payloads, stored back to back at `src` with their u32 byte lengths at `lengths`,
 * into frames at `dst`, each its own FIN frame of `opcode`. Returns the number of bytes written.
 * `dst` must not overlap the payloads.
 */
export function encodeBatch(src: usize, lengths: usize, count: u32, opcode: u32, dst: usize): usize {
  let from = src;
  let to = dst;
  for (let i: u32 = 0; i < count; i++) {
    const length = load<u32>(lengths + (<usize>i << 2));
    to = writeHeader(to, opcode, length);
    memory.copy(to, from, length);
    from += length;
    to += length;
  }
  return to - dst;
}

/**
 * XORs `length` bytes at `ptr` with the 4-byte masking key (RFC 6455 section 5.3), in place; the
 * same call masks and unmasks. `key` holds the key's bytes in memory order (little-endian load).
 */
export function mask(ptr: usize, length: usize, key: u32): void {
  const wide = i32x4.splat(<i32>key);
  let i: usize = 0;
  const end16 = length & ~(<usize>15);
  for (; i < end16; i += 16) {
    v128.store(ptr + i, v128.xor(v128.load(ptr + i), wide));
  }
  for (; i < length; i++) {
    const shift = <u32>((i & 3) << 3);
    store<u8>(ptr + i, load<u8>(ptr + i) ^ <u8>(key >>> shift));
  }
}
