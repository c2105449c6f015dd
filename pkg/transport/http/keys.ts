/**
 * API keys: which of the configured keys a request carries, compared in constant time.
 *
 * Keys are kept as SHA-256 digests only. A presented key is digested too, and its digest compared
 * with every configured one by `crypto.timingSafeEqual` (digests have a fixed length, so neither the
 * key's length nor the position of its first wrong byte changes the time taken), without stopping
 * at the first match. Keys never appear in answers or logs.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Shortest key accepted: 16 characters (a random 16-character key has at least 64 bits). */
export const MIN_KEY_LENGTH = 16;

/** Which key a request carries: the index of the configured key, or why none. */
export type KeyMatch = { key: number } | { refused: 'missing' | 'wrong' };

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

export class ApiKeys {
  private readonly digests: Buffer[];

  /** Throws a TypeError for a missing key, an empty list, or a key shorter than `MIN_KEY_LENGTH`. */
  constructor(keys: unknown) {
    const list = Array.isArray(keys) ? keys : [keys];
    if (keys === undefined || list.length === 0) {
      throw new TypeError(`livehub: hub.api() needs a key: { key: process.env.LIVEHUB_API_KEY } (a string of at least ${MIN_KEY_LENGTH} characters, or an array of them to rotate keys)`);
    }
    list.forEach((key, i) => {
      const which = Array.isArray(keys) ? `key[${i}]` : 'key';
      if (typeof key !== 'string') throw new TypeError(`livehub: hub.api() ${which} must be a string, got ${key === null ? 'null' : typeof key}`);
      if (key.length < MIN_KEY_LENGTH) {
        throw new TypeError(`livehub: hub.api() ${which} is too short (${key.length} characters): use at least ${MIN_KEY_LENGTH}, e.g. from \`openssl rand -hex 32\``);
      }
    });
    this.digests = (list as string[]).map(digest);
  }

  /** The configured key the request carries (`X-API-Key`, or `Authorization: Bearer <key>`). */
  match(req: IncomingMessage): KeyMatch {
    const presented = readKey(req);
    if (presented === null) return { refused: 'missing' };
    const candidate = digest(presented);
    let found = -1;
    // Every configured key is compared, whatever matched: the time does not say which one did.
    for (let i = 0; i < this.digests.length; i++) {
      if (timingSafeEqual(candidate, this.digests[i]!) && found < 0) found = i;
    }
    return found < 0 ? { refused: 'wrong' } : { key: found };
  }
}

/** The key a request presents, or null when it presents none. */
export function readKey(req: IncomingMessage): string | null {
  const header = req.headers['x-api-key'];
  const value = Array.isArray(header) ? header[0] : header;
  if (value !== undefined && value !== '') return value.trim();
  const authorization = req.headers.authorization;
  if (authorization) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (match) return match[1]!;
  }
  return null;
}
