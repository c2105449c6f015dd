const EPOCH = Date.now();

/**
 * Milliseconds since livehub loaded: what connections and the memory engine keep their times in.
 * For 24 days these are small integers, which V8 keeps in the object's own field; epoch
 * milliseconds (or any difference of them: V8's subtraction of two heap numbers makes a heap
 * number even when the result is whole) would be a 16-byte heap number per field per object.
 * After 24 days they are heap numbers, and still right.
 */
export function clock(): number {
  const ms = Date.now() - EPOCH;
  return ms < 0x7fffffff ? ms | 0 : ms;
}
