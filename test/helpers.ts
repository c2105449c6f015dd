import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import express, { type Express, type RequestHandler } from 'express';
import { afterEach, expect, vi } from 'vitest';
import { WebSocket } from 'ws';
import { coreOf } from '../pkg/hub.js';
import { Hub, type HubOptions } from '../pkg/index.js';
import type { Logger } from '../pkg/core/logger.js';
import { SUBPROTOCOL } from '../pkg/protocol/index.js';
import type { HttpApiOptions } from '../pkg/transport/http/api.js';

/** A line the recording logger kept: its level, the context's `code`, the message, and the whole context. */
export interface LogLine {
  level: string;
  code: string;
  message: string;
  context: Record<string, any>;
}

/** A hub logger that keeps every line it is given, in order. */
export function recordingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (context: object, message: string) => {
    lines.push({ level, code: String((context as { code?: unknown }).code), message, context: context as Record<string, any> });
  };
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** How the hub is served; by default a bare http.Server answering 404, with the hub attached at /ws. */
export interface HubSetup {
  /** `hub.attach(server, attach)`; `false`: not attached (the test routes upgrades itself). @default { path: '/ws' } */
  attach?: { path?: string; eventsPath?: string } | false;
  /** An Express app serving the requests; the callback adds its routes (and middleware). */
  express?: (app: Express, hub: Hub) => void;
  /** A plain request listener serving the requests (instead of 404s). */
  handler?: (hub: Hub) => RequestListener;
  /** An `upgrade` listener (with `attach: false`, it decides which upgrades reach the hub). */
  upgrade?: (hub: Hub) => (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /**
   * The HTTP API, `hub.api(options)`: in the Express app at `/api` (after `before`, e.g. `express.json()`),
   * or as the whole server with `mount: 'standalone'`.
   */
  api?: HttpApiOptions & { mount?: 'express' | 'standalone'; before?: RequestHandler[] };
  /** http.Server options (timeouts). */
  server?: ServerOptions;
  /** Give the hub a recording logger (unless the options name a logger); its lines are `logs`. */
  record?: boolean;
}

export type StartedHub = Awaited<ReturnType<typeof startHub>>;

/**
 * A hub served by a real http.Server on 127.0.0.1, port 0. `url` is the WebSocket URL (the attached
 * path, /ws by default), `base` the server's http origin, `api` where the HTTP API answers.
 */
export async function startHub(options: HubOptions = {}, setup: HubSetup = {}) {
  let logs: LogLine[] = [];
  if (setup.record && options.logger === undefined) {
    const recording = recordingLogger();
    options = { ...options, logger: recording.logger };
    logs = recording.lines;
  }
  const hub = new Hub(options);
  const { mount = 'express', before = [], ...apiOptions } = setup.api ?? ({} as NonNullable<HubSetup['api']>);
  let listener: RequestListener = (_req, res) => { res.writeHead(404); res.end(); };
  if (setup.api && mount === 'standalone') listener = hub.api(apiOptions);
  else if (setup.express || setup.api) {
    const app = express();
    setup.express?.(app, hub);
    if (setup.api) {
      for (const middleware of before) app.use(middleware);
      app.use('/api', hub.api(apiOptions));
    }
    listener = app;
  } else if (setup.handler) listener = setup.handler(hub);
  const server = createServer(setup.server ?? {}, listener);
  const attach = setup.attach ?? { path: '/ws' };
  if (attach) hub.attach(server, attach);
  if (setup.upgrade) server.on('upgrade', setup.upgrade(hub));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    hub, server, port, base,
    url: `ws://127.0.0.1:${port}${(attach && attach.path) || '/ws'}`,
    api: setup.api && mount === 'standalone' ? base : `${base}/api`,
    /** What the recording logger kept (with `record`). */
    logs,
    async stop() {
      await hub.close();
      await closeServer(server);
    },
  };
}

/**
 * For a test file: the hubs it starts with `start` (or makes with `hub`), and what it hands to
 * `cleanup`, are stopped and run after each test (cleanups first, newest first).
 */
export function perTest() {
  const running: Array<{ stop(): Promise<void> }> = [];
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });
  return {
    async start(options: HubOptions = {}, setup: HubSetup = {}) {
      const s = await startHub(options, setup);
      running.push(s);
      return s;
    },
    /** A hub with no server, closed after the test. */
    hub(options: HubOptions = {}) {
      const hub = new Hub(options);
      running.push({ stop: () => hub.close() });
      return hub;
    },
    cleanup(...fns: Array<() => unknown>) {
      cleanups.push(...fns);
    },
  };
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Lets I/O callbacks run (one turn of the event loop), for loops that publish faster than a socket
 * drains: not a wait for anything, so no time passes on purpose.
 */
export const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A timed wait. Only for what nothing else can express: a load's pace, or a time that must pass
 * with nothing happening (each use says why). Anything awaited is polled; absence is a sentinel.
 */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let sentinels = 0;

/**
 * A test peer: a real `ws` client that records every message it receives. The hub's `connected`
 * announcement and its heartbeats are kept apart (`connected`, `heartbeats`), so that `messages` holds
 * what the test is about.
 */
export class Peer {
  readonly messages: any[] = [];
  /** The hub's first frame (`{"type":"connected","heartbeat":N}`), once it came. */
  connected: any = null;
  /** The heartbeats the hub wrote to this connection, with when each arrived (Date.now()). */
  readonly heartbeats: number[] = [];
  readonly ws: WebSocket;
  closed: { code: number; reason: string } | null = null;
  private waiters: Array<() => void> = [];

  constructor(url: string, options: ConstructorParameters<typeof WebSocket>[2] & { protocols?: string[] } = {}) {
    // livehub's own clients negotiate the full protocol; `protocols: []` plays a Go-original client.
    const { protocols = [SUBPROTOCOL], ...rest } = options as typeof options & { protocols?: string[] };
    this.ws = new WebSocket(url, protocols, rest);
    this.ws.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (message?.type === 'heartbeat' && message.channel === undefined) this.heartbeats.push(Date.now());
      else if (message?.type === 'connected' && message.channel === undefined) this.connected = message;
      else this.messages.push(message);
      this.wake();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
    this.ws.on('error', () => {});
  }

  static async open(url: string, options?: ConstructorParameters<typeof WebSocket>[2] & { protocols?: string[] }): Promise<Peer> {
    const peer = new Peer(url, options);
    await new Promise<void>((resolve, reject) => {
      peer.ws.once('open', () => resolve());
      peer.ws.once('error', reject);
      peer.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return peer;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Subscribes and waits for the `subscribed` reply. */
  async subscribe(channel: string): Promise<void> {
    this.send({ type: 'subscribe', channel });
    await this.next((m) => m.type === 'subscribed' && m.channel === channel);
  }

  /**
   * A sentinel on this connection: a ping, and its pong awaited (and taken out of `messages`). The
   * hub answers in order, so whatever it sent this peer before reading the ping has arrived by now.
   */
  async sync(timeout = 5000): Promise<void> {
    const id = `sentinel-${++sentinels}`;
    this.send({ type: 'ping', id });
    await this.next((m) => m.type === 'pong' && m.id === id, timeout);
  }

  /** Waits for (and consumes from the search) the first message matching `match`. */
  async next(match: (message: any) => boolean = () => true, timeout = 5000): Promise<any> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const index = this.messages.findIndex(match);
      if (index >= 0) return this.messages.splice(index, 1)[0];
      if (this.closed) throw new Error(`closed (${this.closed.code}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; have ${JSON.stringify(this.messages).slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** Waits until the socket is closed; returns the close code and reason. */
  async whenClosed(timeout = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeout;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('not closed in time');
      await new Promise<void>((resolve) => { const t = setTimeout(resolve, 20); this.waiters.push(() => { clearTimeout(t); resolve(); }); });
    }
    return this.closed;
  }

  close(): void {
    this.ws.terminate();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

/**
 * A sentinel on a channel: publishes a message of type `sentinel-<n>` on it and waits until every
 * peer got it (taking it out of their `messages`). Per-channel order makes it exact: whatever was
 * published on the channel before it, to these peers, has arrived by now. `tags` let it through a
 * subscription's filter.
 */
export async function sentinel(hub: Hub, channel: string, peers: Peer[], options: { tags?: Record<string, string> } = {}): Promise<void> {
  const type = `sentinel-${++sentinels}`;
  await hub.publish(channel, type, null, options.tags ? { tags: options.tags } : undefined);
  for (const peer of peers) await peer.next((m) => m.channel === channel && m.type === type);
}

/** How many connections of this node are subscribed to `channel` (0 when none is). */
export function subscribers(hub: Hub, channel: string): number {
  return coreOf(hub).channelList().find((c) => c.channel === channel)?.subscribers ?? 0;
}

/**
 * Resolves once the hub's side of the WebSocket connection whose client end is `client` has read
 * every byte the client wrote (or is gone): to make each write a read of its own.
 */
export async function readByServer(hub: Hub, client: Socket): Promise<void> {
  const socketOf = (session: ServerSession) => (session.transport as unknown as { ws?: { _socket?: Socket } }).ws?._socket;
  const server = serverSessions(hub).map(socketOf).find((s) => s?.remotePort === client.localPort);
  if (!server) return; // not (or no longer) open on the hub
  await vi.waitFor(() => {
    if (server.bytesRead < client.bytesWritten && !server.destroyed) throw new Error(`the hub read ${server.bytesRead} of ${client.bytesWritten} bytes`);
  }, { timeout: 5000, interval: 1 });
}

/** What a test may do to a connection on the server side. */
export interface ServerSession {
  readonly id: string;
  readonly transport: { readonly name: string };
  readonly identity: { readonly userId: string } | null;
  terminate(): void;
}

/** The hub's open connections, server side (to cut them from the server in a test). */
export function serverSessions(hub: Hub): ServerSession[] {
  return [...(coreOf(hub) as unknown as { sessions: Set<ServerSession> }).sessions];
}

/**
 * POSTs an endless chunked body (16 KiB chunks, for as long as the server reads, giving up at
 * 64 MiB) to `path`; resolves once the server closed the connection, with what it answered and the
 * bytes the client got to send.
 */
export async function endlessBody(port: number, path: string, headers: Record<string, string> = {}): Promise<{ answer: string; sent: number }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let answer = '';
  let closed = false;
  socket.on('data', (chunk) => { answer += String(chunk); });
  socket.on('error', () => {});
  socket.on('close', () => { closed = true; });
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}Transfer-Encoding: chunked\r\n\r\n`);
  const chunk = `4000\r\n${'x'.repeat(0x4000)}\r\n`;
  let sent = 0;
  while (!closed && sent < 64 * 1024 * 1024) {
    if (!socket.write(chunk)) await new Promise<void>((resolve) => { socket.once('drain', resolve); socket.once('close', resolve); });
    sent += 0x4000;
  }
  await expect.poll(() => closed).toBe(true);
  socket.destroy();
  return { answer, sent };
}
