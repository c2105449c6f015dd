import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { WebSocket } from 'ws';
import { coreOf } from '../pkg/hub.js';
import { Hub, type HubOptions } from '../pkg/index.js';
import { SUBPROTOCOL } from '../pkg/protocol/index.js';

/** A hub attached to a real http.Server on 127.0.0.1, port 0. */
export async function startHub(options: HubOptions = {}, path = '/ws') {
  const hub = new Hub(options);
  const server = createServer((_req, res) => { res.writeHead(404); res.end(); });
  hub.attach(server, { path });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    hub, server, port,
    url: `ws://127.0.0.1:${port}${path}`,
    async stop() {
      await hub.close();
      await closeServer(server);
    },
  };
}

/**
 * For a test file: the hubs it starts with `start`, and what it hands to `cleanup`, are stopped and
 * run after each test (cleanups first, newest first).
 */
export function perTest() {
  const running: Array<Awaited<ReturnType<typeof startHub>>> = [];
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });
  return {
    async start(options: HubOptions = {}) {
      const s = await startHub(options);
      running.push(s);
      return s;
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

/** A test peer: a real `ws` client that records every message it receives. */
export class Peer {
  readonly messages: any[] = [];
  readonly ws: WebSocket;
  closed: { code: number; reason: string } | null = null;
  private waiters: Array<() => void> = [];

  constructor(url: string, options: ConstructorParameters<typeof WebSocket>[2] & { protocols?: string[] } = {}) {
    // livehub's own clients negotiate the full protocol; `protocols: []` plays a Go-original client.
    const { protocols = [SUBPROTOCOL], ...rest } = options as typeof options & { protocols?: string[] };
    this.ws = new WebSocket(url, protocols, rest);
    this.ws.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)));
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

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
