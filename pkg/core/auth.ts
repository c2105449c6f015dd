import type { IncomingMessage } from 'node:http';
import type { JWTPayload, JWTVerifyGetKey, CryptoKey, KeyObject } from 'jose';
import { checkKnownOptions } from '../options-check.js';

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
  /** When the credential expires (ms since the epoch): the connection is closed with 4002 then (by the end of that second). */
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
  /**
   * Refuse (401) a token without an `exp` claim. A token that never expires stays good forever once
   * leaked; set `false` only for tokens revoked by other means (see `verify`).
   * @default true
   */
  requireExp?: boolean;
  /**
   * Called after the signature and the standard claims are checked, with the verified payload: return
   * (or resolve) `true` to accept, anything else refuses with 401. For revocation: a session id, a
   * per-user token version, a deny list. A hook that throws an `AuthError` refuses with its status
   * (e.g. 503 while the revocation store is down); any other error refuses with 401 and is reported
   * by the hub (`onError`), never disclosed to the client.
   * @default none
   */
  verify?: (payload: JWTPayload, request: IncomingMessage) => boolean | Promise<boolean>;
}

const JWT_OPTIONS: readonly (keyof JwtAuthenticatorOptions)[] = [
  'key', 'algorithms', 'issuer', 'audience', 'from', 'cookieName', 'queryParameter', 'userIdClaim', 'clockTolerance', 'requireExp', 'verify',
];

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
 * malformed, forged, expired, `alg: none`, wrong-audience or (by default) `exp`-less token, or one
 * `verify` refuses, is refused with 401; the reason is not disclosed and the token never appears in
 * an error. Unknown or mistyped options throw a TypeError.
 */
export function jwtAuthenticator(options: JwtAuthenticatorOptions): Authenticate {
  if (!options || typeof options !== 'object') throw new TypeError('livehub: jwtAuthenticator needs options with a key');
  checkKnownOptions(options, JWT_OPTIONS, 'jwtAuthenticator()');
  if (options.key === undefined || options.key === null) throw new TypeError('livehub: jwtAuthenticator needs a key');
  const { key, issuer, audience, userIdClaim = 'sub', clockTolerance = 5, requireExp = true, verify } = options;
  if (typeof requireExp !== 'boolean') throw new TypeError('livehub: jwtAuthenticator requireExp must be a boolean');
  if (verify !== undefined && typeof verify !== 'function') throw new TypeError('livehub: jwtAuthenticator verify must be a function');
  const secret = typeof key === 'string' ? new TextEncoder().encode(key) : key;
  if (secret instanceof Uint8Array && secret.length < 32) throw new TypeError('livehub: an HS256 secret must be at least 32 bytes');
  const isSecret = secret instanceof Uint8Array;
  const algorithms = (options.algorithms ?? (isSecret ? ['HS256'] : ['RS256', 'ES256'])).filter((a) => a.toLowerCase() !== 'none');
  // jose is loaded by the first authenticator an app builds, not by every app that imports livehub
  // (it adds about 10 MB and 30 ms to a process that never verifies a token).
  const verifier = import('jose').then((jose) => ({
    jwtVerify: jose.jwtVerify,
    verifyKey: (secret instanceof URL ? jose.createRemoteJWKSet(secret) : secret) as Uint8Array | KeyObject | CryptoKey | JWTVerifyGetKey,
  }));
  verifier.catch(() => { /* reported by the first verification, which awaits it */ });

  return async (request) => {
    const token = readToken(request, options);
    if (!token) throw new AuthError(401);
    const { jwtVerify, verifyKey } = await verifier;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, verifyKey as Uint8Array, {
        algorithms, issuer, audience, clockTolerance, ...(requireExp ? { requiredClaims: ['exp'] } : {}),
      }));
    } catch {
      throw new AuthError(401);
    }
    const userId = payload[userIdClaim];
    if (typeof userId !== 'string' || userId.length === 0) throw new AuthError(401);
    // A hook that throws is not caught here: the hub reports its error (onError / logger) and
    // answers 401, and an AuthError it throws (503 while its store is down) keeps its status.
    if (verify && (await verify(payload, request)) !== true) throw new AuthError(401);
    return { userId, claims: payload as Record<string, unknown>, expiresAt: payload.exp ? payload.exp * 1000 : undefined };
  };
}
