import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach } from 'vitest';
import { Hub, type HubOptions } from '../../../pkg/index.js';
import { createHttpApi, type HttpApiOptions } from '../../../pkg/transport/http/api.js';
import { closeServer } from '../../helpers.js';

/** The HTTP API on a real server: hubs, servers and what tests hand to `cleanup` end after each test. */

export const KEY = 'test-key-0123456789abcdef';
export const OTHER_KEY = 'other-key-abcdefghijklmnop';

export type LogLine = { level: string; code: string; message: string };

/** A logger that keeps what the hub logs. */
export function recordingLogger(lines: LogLine[]) {
  const keep = (level: string) => (context: object, message: string) => lines.push({ level, code: (context as { code: string }).code, message });
  return { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

export function cleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

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

/** A hub with its WebSocket at /ws and the HTTP API, on 127.0.0.1 port 0. */
export async function startApi(options: ApiServerOptions = {}) {
  const logs: LogLine[] = [];
  const hub = new Hub({ logger: recordingLogger(logs), ...options.hub });
  const api = hub.api({ key: KEY, ...options.api });
  let server: Server;
  if (options.mount === 'standalone') {
    server = createServer(api);
  } else {
    const app = express();
    for (const middleware of options.before ?? []) app.use(middleware);
    app.use('/api', api);
    server = createServer(app);
  }
  hub.attach(server, { path: '/ws' });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}${options.mount === 'standalone' ? '' : '/api'}`;
  cleanup(async () => {
    await hub.close();
    await closeServer(server);
  });
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
  return { hub, server, port, base, logs, call, ws: `ws://127.0.0.1:${port}/ws` };
}
