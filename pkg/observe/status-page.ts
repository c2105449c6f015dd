import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkKnownOptions } from '../options-check.js';
import type { Hub } from '../hub.js';
import { STATUS_CHANNEL, StatusFeed } from './status.js';
import { renderPage } from './status-html.js';

/**
 * `app.get('/status', statusPage(hub, { key }))`: a live page of the cluster (see status-html.ts),
 * fed through livehub itself by every node's StatusFeed (see status.ts).
 *
 * With `key`, the page answers 401 unless the request carries it (`?key=…` or the
 * `X-Livehub-Status-Key` header; compared in constant time), and the snapshots go to a channel
 * named after a digest of the key, so only those who got the page know where to listen. Without
 * `key` (development), anyone who reaches the page (and the channel `livehub-status`) sees it, with
 * personal and private channels shown by their prefix only (`user:…`, `private-…`): put the app's own
 * auth in front of it, or allow the status channel only to operators in `authorize`.
 *
 * Mount it on every node with the same key: each node then publishes its snapshot, and each page
 * shows them all.
 */
export interface StatusPageOptions {
  /** The secret the page asks for; omit only in development. */
  key?: string;
  /** The hub's WebSocket path on this origin (default `/ws`). */
  websocket?: string;
  /** The hub's SSE path: the page uses Server-Sent Events instead of WebSocket. */
  events?: string;
  /** Milliseconds between snapshots (default 1000). */
  interval?: number;
  /** The page's title (default `livehub status`). */
  title?: string;
}

export interface StatusPageHandler {
  (request: IncomingMessage, response: ServerResponse): void;
  /** The channel the snapshots go to. */
  readonly channel: string;
  /** This node's feed (its `snapshot()`). */
  readonly feed: StatusFeed;
  /** Stops publishing snapshots. */
  close(): void;
}

const KNOWN = ['key', 'websocket', 'events', 'interval', 'title'] as const;
export const KEY_HEADER = 'x-livehub-status-key';

export function statusPage(hub: Hub, options: StatusPageOptions = {}): StatusPageHandler {
  if (options === null || typeof options !== 'object') throw new TypeError('livehub: statusPage options must be an object');
  checkKnownOptions(options, KNOWN, 'statusPage()');
  const { key, websocket = '/ws', events, interval = 1000, title = 'livehub status' } = options;
  if (key !== undefined && (typeof key !== 'string' || key.length < 8)) throw new TypeError('livehub: statusPage key must be a string of at least 8 characters (omit it only in development)');
  for (const [name, path] of [['websocket', websocket], ['events', events]] as const) {
    if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/'))) throw new TypeError(`livehub: statusPage ${name} must be a path starting with "/"`);
  }
  if (typeof title !== 'string') throw new TypeError('livehub: statusPage title must be a string');
  const channel = statusChannel(key);
  // Without a key anyone may watch: personal and private channels then show their prefix only.
  const feed = new StatusFeed(hub, { channel, interval, privateNames: key !== undefined });
  const expected = key === undefined ? null : digest(key);

  const handler = ((request: IncomingMessage, response: ServerResponse): void => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('method not allowed: GET the status page\n');
      return;
    }
    if (expected && !matches(expected, presented(request))) {
      response.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      response.end('livehub status: missing or wrong key; open the page with ?key=… or send the X-Livehub-Status-Key header\n');
      return;
    }
    const nonce = randomBytes(16).toString('base64');
    const html = renderPage({ channel, websocket, events: events ?? null, interval, title, initial: feed.snapshot() }, nonce);
    response.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      // The key may be in the URL: never send it on as a Referer; no framing; only our own script.
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'`,
    });
    response.end(request.method === 'HEAD' ? undefined : html);
  }) as StatusPageHandler;
  Object.defineProperty(handler, 'channel', { value: channel });
  Object.defineProperty(handler, 'feed', { value: feed });
  Object.defineProperty(handler, 'close', { value: () => feed.close() });
  return handler;
}

/** The channel a status page with this key listens to (for a node that publishes without serving the page: `new StatusFeed(hub, { channel })`). */
export function statusChannel(key?: string): string {
  return key === undefined ? STATUS_CHANNEL : `${STATUS_CHANNEL}.${digest(`livehub-status-channel:${key}`).toString('hex').slice(0, 24)}`;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function presented(request: IncomingMessage): string | null {
  const header = request.headers[KEY_HEADER];
  if (typeof header === 'string') return header;
  return new URL(request.url ?? '/', 'http://localhost').searchParams.get('key');
}

/** Constant time over fixed-length digests: no length or prefix leaks. */
function matches(expected: Buffer, candidate: string | null): boolean {
  return candidate !== null && timingSafeEqual(expected, digest(candidate));
}
