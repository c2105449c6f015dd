import type express from 'express';
import type { HubOptions } from '../../../pkg/index.js';
import type { HttpApiOptions } from '../../../pkg/transport/http/api.js';
import { perTest } from '../../helpers.js';

/** The HTTP API on a real server (the shared `startHub`): hubs and what tests hand to `cleanup` end after each test. */

export const KEY = 'test-key-0123456789abcdef';
export const OTHER_KEY = 'other-key-abcdefghijklmnop';

export const { cleanup, start, hub: newHub } = perTest();

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export interface ApiServerOptions {
  hub?: HubOptions;
  api?: Partial<HttpApiOptions>;
  /** `express`: `app.use('/api', api)`; `standalone`: `http.createServer(api)`. @default 'express' */
  mount?: 'express' | 'standalone';
  /** Express middleware mounted before the API (e.g. `express.json()`). */
  before?: express.RequestHandler[];
}

/** A hub with its WebSocket at /ws and the HTTP API (key `KEY`), logging to `logs`, on 127.0.0.1 port 0. */
export async function startApi(options: ApiServerOptions = {}) {
  const s = await start(options.hub ?? {}, {
    record: true,
    api: { key: KEY, ...options.api, mount: options.mount, before: options.before },
  });
  const base = s.api;
  /** A request with the key (unless `headers` set X-API-Key or Authorization itself); JSON bodies. */
  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const auth: Record<string, string> = Object.keys(headers).some((h) => /^(x-api-key|authorization)$/i.test(h)) ? {} : { 'X-API-Key': KEY };
    const init: RequestInit = { method, headers: { ...auth, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json', ...init.headers };
    }
    const response = await fetch(`${base}${path}`, init);
    const text = await response.text();
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch { parsed = undefined; }
    return { status: response.status, headers: response.headers, body: parsed, text };
  }
  return { hub: s.hub, server: s.server, port: s.port, base, logs: s.logs, call, ws: s.url };
}
