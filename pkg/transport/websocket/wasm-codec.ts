import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OPCODE_TEXT, type FrameCodec } from './codec.js';

/**
 * The exports of build/codec.wasm (compiled from assembly/index.ts). Pointers and lengths are byte
 * offsets into `memory`, which the host manages: nothing in WASM memory outlives one call.
 */
export interface CodecExports {
  readonly memory: WebAssembly.Memory;
  /** First byte the host may use. */
  heapBase(): number;
  /** Header bytes (2, 4 or 10) of an unmasked frame with a payload of `length` bytes. */
  headerLength(length: number): number;
  /** Writes a FIN frame header at `dst`; returns the offset after it. */
  writeHeader(dst: number, opcode: number, length: number): number;
  /** Lays `count` payloads (bytes at `src`, u32 lengths at `lengths`) into frames at `dst`; returns bytes written. */
  encodeBatch(src: number, lengths: number, count: number, opcode: number, dst: number): number;
  /** XORs `length` bytes at `ptr` with the masking key `key` (its bytes in memory order), in place. */
  mask(ptr: number, length: number, key: number): void;
}

const PAGE = 65536;

/** Where the compiled module is: the nearest `build/` above this file (from source or from dist/). */
function wasmPath(name: string): string {
  for (let up = 1; up <= 5; up++) {
    const path = fileURLToPath(new URL(`${'../'.repeat(up)}build/${name}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`livehub: build/${name} is missing; run "npm run build:wasm" (asc compiles assembly/)`);
}

/** Instantiates the codec module synchronously. `debug` loads the debug build. */
export function instantiateCodec(debug = false): CodecExports {
  const bytes = readFileSync(wasmPath(debug ? 'codec.debug.wasm' : 'codec.wasm'));
  const module = new WebAssembly.Module(bytes);
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort(_message: number, _file: number, line: number, column: number) {
        throw new Error(`livehub codec: abort at ${line}:${column}`);
      },
    },
  });
  return instance.exports as unknown as CodecExports;
}

/**
 * Wraps the module as a FrameCodec. Payloads are written (UTF-8) into WASM memory, framed there, and
 * the frames are copied out into a fresh Buffer before returning: a Buffer viewing WASM memory would
 * be emptied by the next `memory.grow`, so none ever leaves this function.
 */
export function createWasmCodec(exports: CodecExports = instantiateCodec()): FrameCodec {
  const base = exports.heapBase();
  let view = Buffer.from(exports.memory.buffer);

  function reserve(bytes: number): void {
    const need = base + bytes;
    if (need > exports.memory.buffer.byteLength) {
      exports.memory.grow(Math.ceil((need - exports.memory.buffer.byteLength) / PAGE));
    }
    if (view.buffer !== exports.memory.buffer) view = Buffer.from(exports.memory.buffer);
  }

  return {
    name: 'wasm',
    encodeBatch(payloads: readonly string[]): Buffer {
      const count = payloads.length;
      let inputBytes = 0;
      const lengths = new Array<number>(count);
      for (let i = 0; i < count; i++) {
        const n = Buffer.byteLength(payloads[i]!, 'utf8');
        lengths[i] = n;
        inputBytes += n;
      }
      // Layout above heapBase: [lengths: 4 * count][payloads: inputBytes][frames: inputBytes + 10 * count]
      const lengthsAt = base;
      const srcAt = lengthsAt + 4 * count;
      const dstAt = srcAt + inputBytes;
      reserve(4 * count + inputBytes * 2 + 10 * count);
      let at = srcAt;
      for (let i = 0; i < count; i++) {
        view.writeUInt32LE(lengths[i]!, lengthsAt + 4 * i);
        at += view.utf8Write(payloads[i]!, at, lengths[i]!);
      }
      const written = exports.encodeBatch(srcAt, lengthsAt, count, OPCODE_TEXT, dstAt);
      return Buffer.from(view.subarray(dstAt, dstAt + written)); // the copy out
    },
  };
}

let shared: FrameCodec | null = null;

/** The process-wide WASM codec (one instance: the hub loop is single-threaded). */
export function loadWasmCodec(): FrameCodec {
  shared ??= createWasmCodec();
  return shared;
}
