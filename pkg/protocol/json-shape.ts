/** Limits on inbound JSON, checked before it is parsed (codes `too_deep` and `too_many_keys`). */

export type JsonShape = 'ok' | 'too_deep' | 'too_many_keys';

/**
 * Scans JSON text for nesting depth and number of object keys, without building anything. Runs before
 * `JSON.parse`, so 20,000 nested arrays in a 40 KB message are refused cheaply and never reach a
 * recursive `JSON.stringify`. Malformed text passes through to `JSON.parse`, which reports it.
 */
export function scanJson(text: string, maxDepth: number, maxKeys: number): JsonShape {
  let depth = 0;
  let keys = 0;
  let inString = false;
  // Stryker disable next-line EqualityOperator: charCodeAt past the end is NaN, which matches nothing
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return 'too_deep';
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x3a && ++keys > maxKeys) return 'too_many_keys';
  }
  return 'ok';
}
