/**
 * The HTTP API for servers: other services (workers, cron jobs, services in other languages) publish,
 * read history and presence, and disconnect users without a WebSocket. `hub.api({ key })` returns a
 * plain node:http request handler, so it mounts on Express (`app.use('/api', hub.api({ key }))`,
 * which strips the prefix from `req.url`) or serves on its own (`http.createServer(hub.api({ key }))`),
 * and livehub needs no Express at run time. docs/http-api.md documents every endpoint.
 *
 * A request passes, in order: the route (404, 405), the API key (401), the key's rate limit (429),
 * the Content-Type (415), the body (413, 400), the command's fields (400), the hub (503 when the
 * engine is down). Every refusal is JSON `{"error":{"code","message"}}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkKnownOptions } from '../../options-check.js';
import { readJsonObject } from './body.js';
import { apiError, commandCost, runBatch, runCommand, type CommandName, type HttpApiHub, type Input } from './commands.js';
import { ErrorCode } from '../../protocol/index.js';
import { ApiError, sendError, sendJson } from './errors.js';
import { ApiKeys } from './keys.js';
import { KeyGuessThrottle, KeyRateLimit } from './rate-limit.js';

export type { HttpApiHub } from './commands.js';

/** Options of `hub.api(options)`. */
export interface HttpApiOptions {
  /**
   * The API key, or several (to rotate: add the new one, move the callers, drop the old one), each
   * of at least 16 characters. Callers send it as `X-API-Key: <key>` or `Authorization: Bearer <key>`.
   */
  key: string | readonly string[];
  /** Largest request body, in bytes; a larger one is answered 413 and not read further. @default 65536 */
  maxBodySize?: number;
  /** Commands per second per key (a batch costs one per command); `Infinity`: no limit. @default 1000 */
  rateLimit?: number;
  /** Commands a key may send at once after a quiet period (the bucket's size). @default rateLimit, at least maxBatch */
  rateLimitBurst?: number;
  /** Most commands in a batch, and channels in a broadcast. @default 100 */
  maxBatch?: number;
}

/** A node:http request handler; as Express middleware it answers every request and never calls `next`. */
export type HttpApiHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

export const HTTP_API_DEFAULTS = { maxBodySize: 64 * 1024, rateLimit: 1000, maxBatch: 100 } as const;

const OPTIONS: ReadonlyArray<keyof HttpApiOptions> = ['key', 'maxBodySize', 'rateLimit', 'rateLimitBurst', 'maxBatch'];

interface Route {
  method: 'GET' | 'POST';
  command: CommandName | 'batch';
}

const ROUTES = new Map<string, Route>([
  ['/publish', { method: 'POST', command: 'publish' }],
  ['/broadcast', { method: 'POST', command: 'broadcast' }],
  ['/history', { method: 'GET', command: 'history' }],
  ['/presence', { method: 'GET', command: 'presence' }],
  ['/channels', { method: 'GET', command: 'channels' }],
  ['/info', { method: 'GET', command: 'info' }],
  ['/disconnect', { method: 'POST', command: 'disconnect' }],
  ['/batch', { method: 'POST', command: 'batch' }],
]);

const ENDPOINTS = [...ROUTES].map(([path, route]) => `${route.method} ${path}`).join(', ');

/** Builds the API's request handler. Throws a TypeError for a missing or short key and for bad options. */
export function createHttpApi(hub: HttpApiHub, options: HttpApiOptions): HttpApiHandler {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('livehub: hub.api(options) needs an options object: { key: process.env.LIVEHUB_API_KEY }');
  }
  checkKnownOptions(options, OPTIONS, 'hub.api()');
  const keys = new ApiKeys(options.key);
  const { maxBodySize = HTTP_API_DEFAULTS.maxBodySize, rateLimit = HTTP_API_DEFAULTS.rateLimit, maxBatch = HTTP_API_DEFAULTS.maxBatch } = options;
  wholeNumber('maxBodySize', maxBodySize, 1);
  wholeNumber('maxBatch', maxBatch, 1);
  if (typeof rateLimit !== 'number' || !(rateLimit > 0)) {
    throw new TypeError(`livehub: hub.api() rateLimit must be a number of commands per second above 0 (Infinity: no limit), got ${String(rateLimit)}`);
  }
  const { rateLimitBurst = rateLimit === Infinity ? Infinity : Math.max(rateLimit, maxBatch) } = options;
  if (typeof rateLimitBurst !== 'number' || !(rateLimitBurst >= maxBatch)) {
    throw new TypeError(`livehub: hub.api() rateLimitBurst must be a number at least maxBatch (${maxBatch}), so that a full batch can pass; got ${String(rateLimitBurst)}`);
  }
  const limiter = new KeyRateLimit(rateLimit, rateLimitBurst);
  const guesses = new KeyGuessThrottle();
  const limits = () => ({ maxBodySize, maxJsonDepth: hub.options.maxJsonDepth, maxJsonKeys: hub.options.maxJsonKeys });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/$/, '') : url.pathname;
    const route = ROUTES.get(path);
    if (!route) throw new ApiError(404, ErrorCode.NotFound, `no endpoint ${req.method} ${path.slice(0, 100)}; the endpoints are ${ENDPOINTS}`);
    if (req.method !== route.method) {
      throw new ApiError(405, ErrorCode.MethodNotAllowed, `${path} takes ${route.method}, not ${req.method}`, { Allow: route.method });
    }
    const ip = req.socket?.remoteAddress ?? 'unknown';
    const guessWait = guesses.wait(ip);
    if (guessWait > 0) {
      throw new ApiError(429, ErrorCode.RateLimited, `too many wrong API keys from this address; retry after ${guessWait} s`, { 'Retry-After': String(guessWait) });
    }
    const match = keys.match(req);
    if ('refused' in match) {
      guesses.refused(ip);
      const what = match.refused === 'missing' ? 'no API key' : 'a wrong API key';
      hub.reporter.report('warn', 'api_key_refused', `livehub: HTTP API refused a request from ${ip} to ${path} with ${what} (401)`, undefined, `api_key_refused:${ip}`);
      throw new ApiError(401, ErrorCode.Unauthorized, match.refused === 'missing'
        ? 'send the API key in the X-API-Key header (or Authorization: Bearer <key>)'
        : 'the API key is not valid', { 'WWW-Authenticate': 'Bearer realm="livehub"' });
    }
    // One token now (a flood is refused before its bodies are read), the rest of the cost once known.
    refuseOverLimit(limiter.take(match.key, 1), rateLimit);
    const input = route.method === 'GET' ? queryInput(url) : await readJsonObject(req, limits());
    const cost = commandCost(route.command, input);
    if (cost > 1) {
      const wait = limiter.take(match.key, cost - 1);
      if (wait !== 0) limiter.refund(match.key, 1);
      // A cost above the burst can never pass: say so, rather than a 429 that no wait would end.
      if (wait === -1) {
        throw new ApiError(400, ErrorCode.BadRequest, `this request costs ${cost} commands (a broadcast counts one per channel), more than this key may send at once (rateLimitBurst ${rateLimitBurst}); split it into smaller requests`);
      }
      refuseOverLimit(wait, rateLimit);
    }
    const context = { hub, maxBatch, where: '' };
    const result = route.command === 'batch' ? await runBatch(input, context) : await runCommand(route.command, input, context);
    sendJson(res, 200, result);
  };

  return function livehubApi(req, res) {
    handle(req, res).catch((error: unknown) => {
      sendError(res, apiError(hub, error), req);
    });
  };
}

/** Throws the 429 for a refused take (`wait`: seconds until the tokens are there). */
function refuseOverLimit(wait: number, rate: number): void {
  if (wait === 0) return;
  throw new ApiError(429, ErrorCode.RateLimited, `this key sent more than its rate limit of ${rate} commands a second; retry after ${wait} s`,
    { 'Retry-After': String(wait) });
}

/** A GET's query parameters as a command's input: each at most once; `limit` as a number. */
function queryInput(url: URL): Input {
  const input: Input = {};
  for (const name of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(name);
    if (values.length > 1) throw new ApiError(400, ErrorCode.BadRequest, `the query parameter '${name}' is given ${values.length} times; give it once`);
    const value = values[0]!;
    input[name] = name === 'limit' && /^\d{1,9}$/.test(value) ? Number(value) : value;
  }
  return input;
}

function wholeNumber(name: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`livehub: hub.api() ${name} must be a whole number of at least ${min}, got ${String(value)}`);
  }
}
