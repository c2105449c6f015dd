import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { SignJWT } from 'jose';
import { AuthError, jwtAuthenticator, type Hub, type Identity, type Logger } from 'livehub';
import { isValidName, NAME_RULE } from './messages.js';
import { TOKEN_LIFETIME_MS, type TokenVersions } from './token-versions.js';

/**
 * The chat's JWT mode: `POST /login` sets an HttpOnly cookie holding a signed token that carries the
 * user's token version (`ver`); the WebSocket, MQTT (the token as password) and the HTTP routes accept it while that version is
 * still the user's current one; `POST /logout` moves the version on (revoking every token issued
 * before, on every device, on every node sharing the store) and closes the user's open connections on
 * every node (`hub.disconnectUser`). While the store does not answer, a login check refuses with 503
 * rather than letting a revoked token pass.
 */

export const COOKIE = 'livehub_token';
/** Who issues the chat's tokens and whom they are for: a token minted for another app is refused. */
const TOKEN_ISSUER = 'livehub-chat';
const TOKEN_AUDIENCE = 'livehub-chat';
/** The status page's socket (`/ws?for=status`) may connect without a login: it may only watch the status channel. */
export const STATUS_SOCKET = 'status';

/** A JSON error with a code, for every refused request. */
export function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

export function chatAuth(options: { secret: string; versions: TokenVersions; logger: Logger }) {
  const { secret, versions, logger } = options;
  const storeDown = (error: unknown): never => {
    logger.error({ code: 'token_store_unavailable', err: error }, `chat: the token versions in ${versions.where} cannot be read (${(error as Error).message}): logins are refused with 503 until it answers`);
    throw new AuthError(503, 'the login store is unavailable');
  };
  const jwt = jwtAuthenticator({
    key: secret,
    issuer: TOKEN_ISSUER,
    audience: TOKEN_AUDIENCE,
    // The cookie (pages), or `Authorization: Bearer` (a device's MQTT password, devices.ts).
    from: ['cookie', 'header'],
    cookieName: COOKIE,
    verify: async (payload) => {
      if (typeof payload.sub !== 'string') return false;
      const current = await versions.current(payload.sub).catch(storeDown);
      return payload.ver === current;
    },
  });
  const forStatus = (request: IncomingMessage) => new URL(request.url ?? '/', 'http://x').searchParams.get('for') === STATUS_SOCKET;

  /** The hub's `authenticate`: the cookie's user; the status page's socket may also come without one. */
  const authenticate = async (request: IncomingMessage): Promise<Identity | null> => {
    try {
      return await jwt(request);
    } catch (error) {
      if (forStatus(request) && error instanceof AuthError && error.status === 401) return null;
      throw error;
    }
  };

  /** The logged-in user of an HTTP request, or null; throws an AuthError(503) while the store is down. */
  const userOf = async (req: IncomingMessage): Promise<Identity | null> => {
    try {
      return await jwt(req);
    } catch (error) {
      if (error instanceof AuthError && error.status === 503) throw error;
      return null;
    }
  };

  const login = async (req: Request, res: Response) => {
    const name: unknown = req.body?.name;
    if (!isValidName(name)) return fail(res, 400, 'invalid_name', `${NAME_RULE}; got ${JSON.stringify(name ?? null)?.slice(0, 60)}`);
    const version = await versions.issue(name).catch(storeDown);
    const token = await new SignJWT({ ver: version }).setProtectedHeader({ alg: 'HS256' }).setSubject(name)
      .setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setIssuedAt().setExpirationTime(`${TOKEN_LIFETIME_MS / 1000}s`).sign(new TextEncoder().encode(secret));
    res.cookie(COOKIE, token, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: TOKEN_LIFETIME_MS });
    res.status(204).end();
  };

  // Logging out ends every session of the user: its tokens are revoked and its open sockets closed,
  // on every node.
  const logout = (hub: Hub) => async (req: Request, res: Response) => {
    const user = await userOf(req);
    if (user) await versions.revoke(user.userId).catch(storeDown);
    res.clearCookie(COOKIE, { path: '/' });
    if (user) {
      try {
        await hub.disconnectUser(user.userId, 'logged out');
      } catch (error) {
        // Revoked already: the pages still open cannot reconnect, but stay open until they drop.
        return fail(res, 503, 'unavailable', `logged out, but the pages still open could not be closed: ${(error as Error).message}`);
      }
    }
    res.status(204).end();
  };

  return { authenticate, userOf, login, logout };
}

/** Answers a request refused because the login store is down: 503, retry shortly. */
export function storeUnavailable(error: unknown, res: Response): boolean {
  if (!(error instanceof AuthError) || error.status !== 503) return false;
  res.setHeader('Retry-After', '2');
  fail(res, 503, 'unavailable', 'logins cannot be checked right now (the login store does not answer): retry in a moment');
  return true;
}
