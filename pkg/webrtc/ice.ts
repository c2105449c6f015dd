/**
 * ICE servers for a peer: the app's static list (STUN, or TURN with fixed passwords) and, for a
 * signed-in user, a short-lived TURN credential in the TURN REST form that coturn checks with
 * `use-auth-secret`: the username is `<expiry in Unix seconds>:<user id>` and the password the
 * base64 HMAC-SHA1 of that username with the secret coturn shares (`static-auth-secret`).
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthError, ErrorCode, type Authenticate } from '../index.js';
import { checkKnownOptions } from '../options-check.js';

/** One ICE server, as `RTCPeerConnection`'s `iceServers` takes it. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** TURN with credentials issued per user (coturn's `use-auth-secret`). */
export interface TurnOptions {
  /** The secret coturn has as `static-auth-secret`. */
  secret: string;
  /** The TURN server's URLs, e.g. `['turn:turn.example:3478?transport=udp', 'turns:turn.example:5349']`. */
  urls: string | string[];
  /**
   * Milliseconds a credential is valid. coturn checks it on each allocation and refresh, so it must
   * outlast the longest call made with it. @default 86400000 (a day)
   */
  ttl?: number;
}

/** What a peer is given: the ICE servers, and when their TURN credential expires (ms since the epoch, null without one). */
export interface IceAnswer {
  iceServers: IceServer[];
  expiresAt: number | null;
}

export interface ResolvedIce {
  iceServers: IceServer[];
  turn: Required<TurnOptions> | null;
}

/** A TURN REST credential for `userId`, valid for `ttl` ms from `now`. */
export function turnCredential(secret: string, userId: string, ttl: number, now: number = Date.now()): { username: string; credential: string; expiresAt: number } {
  const expiry = Math.floor((now + ttl) / 1000);
  const username = `${expiry}:${userId}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAt: expiry * 1000 };
}

function checkUrls(urls: unknown, where: string): void {
  const list = Array.isArray(urls) ? urls : [urls];
  if (list.length === 0 || !list.every((url) => typeof url === 'string' && /^(stuns?|turns?):/.test(url))) {
    throw new TypeError(`livehub: ${where} must be stun:, stuns:, turn: or turns: URLs, got ${JSON.stringify(urls)}`);
  }
}

/** The `iceServers` and `turn` options checked; a TypeError names what is wrong. */
export function resolveIce(iceServers: unknown, turn: unknown): ResolvedIce {
  if (!Array.isArray(iceServers)) throw new TypeError('livehub: webrtcSignalling() option \'iceServers\' must be an array of { urls, username?, credential? }');
  iceServers.forEach((server, i) => {
    if (server === null || typeof server !== 'object') throw new TypeError(`livehub: iceServers[${i}] must be an object { urls }`);
    checkKnownOptions(server, ['urls', 'username', 'credential'], `iceServers[${i}]`);
    checkUrls((server as IceServer).urls, `iceServers[${i}].urls`);
  });
  if (turn === undefined) return { iceServers: iceServers as IceServer[], turn: null };
  if (turn === null || typeof turn !== 'object') throw new TypeError('livehub: webrtcSignalling() option \'turn\' must be an object { secret, urls, ttl? }');
  checkKnownOptions(turn, ['secret', 'urls', 'ttl'], 'webrtcSignalling() turn');
  const { secret, urls, ttl = 86_400_000 } = turn as TurnOptions;
  if (typeof secret !== 'string' || secret === '') throw new TypeError('livehub: turn.secret must be the non-empty secret coturn has as static-auth-secret');
  checkUrls(urls, 'turn.urls');
  if (!Number.isInteger(ttl) || ttl < 1000) throw new TypeError(`livehub: turn.ttl must be a whole number of milliseconds, at least 1000, got ${String(ttl)}`);
  return { iceServers: iceServers as IceServer[], turn: { secret, urls, ttl } };
}

/** The ICE servers for a user: the static ones, and a TURN credential when TURN is set and the user signed in. */
export function iceAnswer(ice: ResolvedIce, userId: string | null, now: number = Date.now()): IceAnswer {
  if (!ice.turn || userId === null) return { iceServers: ice.iceServers, expiresAt: null };
  const { username, credential, expiresAt } = turnCredential(ice.turn.secret, userId, ice.turn.ttl, now);
  return { iceServers: [...ice.iceServers, { urls: ice.turn.urls, username, credential }], expiresAt };
}

/** Options of the HTTP endpoint that serves ICE servers. */
export interface IceServersHandlerOptions {
  /** Who the request is from (the function given to the hub as `authenticate` does): null is anonymous. */
  authenticate: Authenticate;
}

function answerJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

/**
 * An HTTP handler (a plain `(req, res)`, or Express middleware) answering GET with `IceAnswer` as
 * JSON: a TURN credential for a signed-in user, the static servers for anyone else. A credential
 * the authenticator refuses (an `AuthError`) is its status with `unauthorized`, an authenticator that
 * throws anything else is 500 `internal`; another method is 405 `method_not_allowed`.
 */
export function iceServersHandler(ice: ResolvedIce, options: IceServersHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  if (options === null || typeof options !== 'object') throw new TypeError('livehub: iceServersHandler() takes { authenticate }');
  checkKnownOptions(options, ['authenticate'], 'iceServersHandler()');
  const { authenticate } = options;
  if (typeof authenticate !== 'function') throw new TypeError('livehub: iceServersHandler() option \'authenticate\' must be a function (request) => identity | null');
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answerJson(res, 405, { error: { code: ErrorCode.MethodNotAllowed, message: 'ICE servers are read with GET' } }, { Allow: 'GET, HEAD' });
      return;
    }
    Promise.resolve().then(() => authenticate(req)).then((identity) => {
      answerJson(res, 200, iceAnswer(ice, identity?.userId ?? null));
    }, (error: unknown) => {
      if (error instanceof AuthError) answerJson(res, error.status, { error: { code: ErrorCode.Unauthorized, message: `not signed in: ${error.message}` } });
      else answerJson(res, 500, { error: { code: ErrorCode.Internal, message: 'the authenticator failed' } });
    });
  };
}
