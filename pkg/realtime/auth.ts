import type { IncomingMessage } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type CryptoKey, type KeyObject } from 'jose';

/**
 * Authentication on the upgrade. An `authenticate(request)` hook returns who the connection is, or
 * refuses with an HTTP status before the upgrade. `jwtAuthenticator` is a ready one, built on jose.
 */

/** Who a connection belongs to. */
export interface Identity {
  /** The user; connections of one user can be reached and closed together. */
  userId: string;
  /** Claims or any facts the app wants to keep with the connection (never logged by livehub). */
  claims?: Record<string, unknown>;
  /** When the credential expires (ms since the epoch): the connection is closed with 4002 then. */
  expiresAt?: number;
}

/** Thrown (or rejected) by an authenticator to refuse the upgrade with an HTTP status. */
export class AuthError extends Error {
  constructor(readonly status: 401 | 403 | 429 | 503 = 401, message = status === 403 ? 'Forbidden' : 'Unauthorized') {
    super(message);
    this.name = 'AuthError';
  }
}

export type Authenticate = (request: IncomingMessage) => Identity | null | Promise<Identity | null>;

export interface JwtAuthenticatorOptions {
  /**
   * The verification key: a secret (HS256) as a string or bytes, a public key (RS256, ES256) as a
   * KeyObject or CryptoKey, or a JWKS URL whose keys are fetched and cached by jose.
   */
  key: string | Uint8Array | KeyObject | CryptoKey | URL;
  /**
   * Accepted algorithms. `none` is never accepted.
   * @default ['HS256'] for a secret, ['RS256', 'ES256'] otherwise
   */
  algorithms?: string[];
  /** Required `iss`. @default not checked */
  issuer?: string;
  /** Required `aud`. @default not checked */
  audience?: string | string[];
  /**
   * Where to look for the token, in order. `header`: `Authorization: Bearer …` (non-browser clients;
   * never in URLs or logs). `cookie`: a cookie (browsers, same site; pair it with the origin check).
   * `query`: a query parameter (browsers cross-site; URLs can end up in proxy logs, so use short-lived
   * tokens).
   * @default ['header', 'cookie', 'query']
   */
  from?: Array<'header' | 'cookie' | 'query'>;
  /** @default 'livehub_token' */
  cookieName?: string;
  /** @default 'token' */
  queryParameter?: string;
  /** The claim holding the user id. @default 'sub' */
  userIdClaim?: string;
  /** Seconds of clock skew tolerated. @default 5 */
  clockTolerance?: number;
}

/** Reads a bearer token from the request, as `from` says. Never logs it. */
export function readToken(request: IncomingMessage, options: Pick<JwtAuthenticatorOptions, 'from' | 'cookieName' | 'queryParameter'> = {}): string | null {
  const { from = ['header', 'cookie', 'query'], cookieName = 'livehub_token', queryParameter = 'token' } = options;
  for (const place of from) {
    if (place === 'header') {
      const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
      if (match) return match[1]!;
    } else if (place === 'cookie') {
      for (const part of (request.headers.cookie ?? '').split(';')) {
        const at = part.indexOf('=');
        if (at > 0 && part.slice(0, at).trim() === cookieName) return decodeURIComponent(part.slice(at + 1).trim());
      }
    } else {
      try {
        const value = new URL(request.url ?? '/', 'http://localhost').searchParams.get(queryParameter);
        if (value) return value;
      } catch { /* malformed URL: no token */ }
    }
  }
  return null;
}

/**
 * An `authenticate` hook verifying a JWT (HS256, RS256, ES256, or keys from a JWKS URL). A missing,
 * malformed, forged, expired, `alg: none` or wrong-audience token is refused with 401; the reason is
 * not disclosed and the token never appears in an error.
 */
export function jwtAuthenticator(options: JwtAuthenticatorOptions): Authenticate {
  if (!options || options.key === undefined || options.key === null) throw new TypeError('livehub: jwtAuthenticator needs a key');
  const { key, issuer, audience, userIdClaim = 'sub', clockTolerance = 5 } = options;
  const secret = typeof key === 'string' ? new TextEncoder().encode(key) : key;
  if (secret instanceof Uint8Array && secret.length < 32) throw new TypeError('livehub: an HS256 secret must be at least 32 bytes');
  const isSecret = secret instanceof Uint8Array;
  const algorithms = (options.algorithms ?? (isSecret ? ['HS256'] : ['RS256', 'ES256'])).filter((a) => a.toLowerCase() !== 'none');
  const verifyKey: Uint8Array | KeyObject | CryptoKey | JWTVerifyGetKey = secret instanceof URL ? createRemoteJWKSet(secret) : secret;

  return async (request) => {
    const token = readToken(request, options);
    if (!token) throw new AuthError(401);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, verifyKey as Uint8Array, { algorithms, issuer, audience, clockTolerance }));
    } catch {
      throw new AuthError(401);
    }
    const userId = payload[userIdClaim];
    if (typeof userId !== 'string' || userId.length === 0) throw new AuthError(401);
    return { userId, claims: payload as Record<string, unknown>, expiresAt: payload.exp ? payload.exp * 1000 : undefined };
  };
}
