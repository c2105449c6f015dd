import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Express, Request, Response } from 'express';
import type { Hub, Identity } from 'livehub';
import { healthHandlers, metricsHandler, statusPage } from 'livehub/observe';
import { fail, STATUS_SOCKET } from './auth.js';

/**
 * The chat's operations routes: `/health/live` and `/health/ready` (open: load balancers probe them),
 * and `/metrics` and the live status page `/status`, which show the chat's traffic and so are not for
 * everyone:
 *
 * - with a status key (LIVEHUB_STATUS_KEY), the key opens them: `/status?key=…` or the
 *   `X-Livehub-Status-Key` header, and `Authorization: Bearer <key>` (what Prometheus sends) too;
 * - without a key, in development (NODE_ENV=development), they are open;
 * - without a key in JWT mode, a logged-in user of this site's own pages may open them;
 * - otherwise they are refused (403) with what to set.
 *
 * The status page is fed through the hub: its page subscribes to the status channel over the chat's
 * WebSocket, so `authorize` must let it (`mayWatch`), and in JWT mode its socket (`/ws?for=status`)
 * may connect without a login to watch that channel and nothing else.
 */

export interface OperationsOptions {
  /** The status key, at least 8 characters (checked by createChatServer). */
  key?: string;
  development: boolean;
  jwt: boolean;
  /** The logged-in user of a request (JWT mode). */
  userOf: (req: IncomingMessage) => Promise<Identity | null>;
}

export interface Operations {
  /** Whether a connection may subscribe to `channel` as the status page does. */
  mayWatch(channel: string, identity: Identity | null): boolean;
  /** Who may open /status and /metrics, and how: one line for the start-up log. */
  readonly summary: string;
  close(): void;
}

const KEY_HEADER = 'x-livehub-status-key';
const digest = (text: string) => createHash('sha256').update(text).digest();

/** The key a request presents: the status page's header or query parameter, or a bearer token. */
function presentedKey(req: IncomingMessage): string | null {
  const header = req.headers[KEY_HEADER];
  if (typeof header === 'string') return header;
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (bearer) return bearer[1]!;
  return new URL(req.url ?? '/', 'http://x').searchParams.get('key');
}

/** A request from this site's own pages, or typed in: a browser says so in Sec-Fetch-Site (other clients send none). */
function sameSite(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}

export function mountOperations(app: Express, hub: Hub, options: OperationsOptions): Operations {
  const { key, development, jwt, userOf } = options;
  const { live, ready } = healthHandlers(hub);
  app.get('/health/live', live);
  app.get('/health/ready', ready);

  const mode = key !== undefined ? 'key' : development ? 'open' : jwt ? 'login' : 'closed';
  const summary = {
    key: '/status and /metrics need the status key (LIVEHUB_STATUS_KEY): open /status?key=<key>; scrape /metrics with Authorization: Bearer <key>',
    open: '/status and /metrics are open to anyone (development: NODE_ENV=development); set LIVEHUB_STATUS_KEY anywhere else',
    login: '/status and /metrics are open to logged-in users of this site (JWT mode, no LIVEHUB_STATUS_KEY); set LIVEHUB_STATUS_KEY to give operators a key',
    closed: '/status and /metrics are closed: set LIVEHUB_STATUS_KEY (then open /status?key=<key>), or NODE_ENV=development for a local run',
  }[mode];
  if (mode === 'closed') {
    const refuse = (_req: Request, res: Response) => fail(res, 403, 'forbidden', `${summary.replace(' are closed', ' are closed outside development')}`);
    app.get(['/status', '/metrics'], refuse);
    return { mayWatch: () => false, summary: `livehub chat: ${summary}`, close() {} };
  }

  const expected = key === undefined ? null : digest(key);
  /** Null when the request may see the operations routes, else why not. */
  const refusal = async (req: IncomingMessage): Promise<[number, string, string] | null> => {
    if (expected) {
      const presented = presentedKey(req);
      // Constant time over fixed-length digests: no length or prefix leaks.
      if (presented !== null && timingSafeEqual(expected, digest(presented))) {
        // The status page reads the key from its own header: a bearer token opens it too.
        req.headers[KEY_HEADER] = presented;
        return null;
      }
      return [401, 'unauthorized', 'missing or wrong status key: open /status?key=<key>, or send it in the X-Livehub-Status-Key header or as Authorization: Bearer <key>'];
    }
    if (mode === 'open') return null;
    if (!sameSite(req)) return [403, 'forbidden', 'the status page and metrics open only from this site\'s own pages'];
    if (!(await userOf(req))) return [401, 'unauthorized', 'log in first: the status page and metrics are for logged-in users (or give operators a key: LIVEHUB_STATUS_KEY)'];
    return null;
  };
  const guarded = (handler: (req: IncomingMessage, res: Response) => void) => async (req: Request, res: Response) => {
    const refused = await refusal(req);
    if (!refused) return handler(req, res);
    res.setHeader('Cache-Control', 'no-store');
    fail(res, ...refused);
  };
  // In JWT mode the page's socket says it is the status page (`?for=status`): it may come without a login.
  const status = statusPage(hub, { ...(key !== undefined ? { key } : {}), websocket: `/ws?for=${STATUS_SOCKET}` });
  const metrics = metricsHandler(hub);
  app.get('/metrics', guarded(metrics));
  app.get('/status', guarded(status));
  return {
    summary: `livehub chat: ${summary}`,
    mayWatch(channel, identity) {
      if (channel !== status.channel) return false;
      // With a key, the channel's name is a digest of it: only a page opened with the key knows it.
      if (mode === 'key' || mode === 'open') return true;
      return identity !== null;
    },
    close() {
      status.close();
      metrics.close();
    },
  };
}
