/** The WebSocket frame codec the `codec` option takes (the transport implements it; the option names it). */

/** A WebSocket frame codec (the `codec` option): the JavaScript one, the WebAssembly one, or an app's. */
export interface FrameCodec {
  /** Which implementation this is. */
  readonly name: 'js' | 'wasm';
  /**
   * Encodes each string as its own text frame (UTF-8) into one new buffer, in order. The buffer is
   * the caller's: it is never reused or changed by the codec afterwards.
   */
  encodeBatch(payloads: readonly string[]): Buffer;
}
