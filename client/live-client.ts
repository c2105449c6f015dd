import {
  BROADCAST_CHANNEL, CloseCode, shouldReconnect,
  type HubMessage, type RequestId, type ServerReply,
} from '../pkg/protocol.js';

/** The part of the WebSocket API the client uses: the browser's, or `ws`'s in Node. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export type LiveStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface LiveClientOptions {
  /**
   * WebSocket implementation; pass `WebSocket` from `ws` in Node 20.
   * @default globalThis.WebSocket
   */
  WebSocket?: WebSocketConstructor;
  /**
   * Connect when constructed.
   * @default true
   */
  autoConnect?: boolean;
  /**
   * Reconnect after the connection drops (unless the close code is terminal, see docs/protocol.md).
   * @default true
   */
  reconnect?: boolean;
  /**
   * Base of the exponential backoff, in ms: attempt n waits a random time in [0, min(max, base * 2^n)).
   * @default 500
   */
  reconnectDelay?: number;
  /**
   * Cap of the backoff, in ms.
   * @default 30000
   */
  maxReconnectDelay?: number;
  /**
   * Reconnect attempts in a row before giving up (status `closed`).
   * @default Infinity
   */
  maxReconnectAttempts?: number;
  /**
   * While open, a `ping` is sent after this many ms without traffic.
   * @default 25000
   */
  heartbeatInterval?: number;
  /**
   * After a `ping`, the connection is dropped and reopened if nothing arrives within this many ms.
   * @default 10000
   */
  heartbeatTimeout?: number;
  /**
   * Publishes kept while not connected; beyond it, the oldest is rejected.
   * @default 1000
   */
  maxQueuedPublishes?: number;
  /**
   * A publish not acked within this many ms is rejected.
   * @default 10000
   */
  ackTimeout?: number;
  /**
   * Called before every connect and reconnect; the token goes in the `tokenParameter` query parameter
   * (browsers cannot set headers on a WebSocket). After close 4002 (token expired) the client
   * reconnects at once and so fetches a fresh one. Return null to connect without a token.
   * @default no token
   */
  getToken?: () => string | null | Promise<string | null>;
  /**
   * The query parameter carrying the token.
   * @default 'token'
   */
  tokenParameter?: string;
  /**
   * Random source for the backoff jitter (tests).
   * @default Math.random
   */
  random?: () => number;
}

export type MessageHandler<T = unknown> = (data: T, message: HubMessage<T>) => void;

/** An error frame from the server, as an Error. */
export class LiveError extends Error {
  constructor(readonly code: string, message: string, readonly channel?: string) {
    super(message);
    this.name = 'LiveError';
  }
}

interface ClientEvents {
  status: (status: LiveStatus) => void;
  open: () => void;
  close: (event: { code: number; reason: string }) => void;
  error: (error: Error) => void;
  message: (message: HubMessage) => void;
  reply: (reply: ServerReply) => void;
}

interface PendingPublish {
  frame: string;
  resolve: () => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * A livehub connection that keeps itself alive: it reconnects with capped exponential backoff and
 * full jitter, resubscribes every channel on every open, queues subscribes and publishes made before
 * open, watches the connection with heartbeats, and never reconnects after `close()`.
 */
export class LiveClient {
  status: LiveStatus = 'idle';
  /** The last error (a terminal close, a failed reconnect budget, an error frame). */
  lastError: Error | null = null;

  private readonly options: Required<Omit<LiveClientOptions, 'WebSocket' | 'getToken'>> &
    Pick<LiveClientOptions, 'WebSocket' | 'getToken'>;
  private ws: WebSocketLike | null = null;
  private readonly handlers = new Map<string, Set<MessageHandler<never>>>();
  /** Reference counts of wanted channels: `on()` handlers plus explicit `subscribe()` calls. */
  private readonly wanted = new Map<string, number>();
  private readonly listeners = new Map<keyof ClientEvents, Set<(...args: never[]) => void>>();
  private readonly pending = new Map<RequestId, PendingPublish>();
  private readonly outbox: RequestId[] = [];
  private attempts = 0;
  private nextId = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdogTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** Set while `getToken()` runs before a connect. */
  private opening: symbol | null = null;
  private readonly detachGlobal: () => void;

  constructor(readonly url: string, options: LiveClientOptions = {}) {
    if (typeof url !== 'string' || url.length === 0) throw new TypeError('livehub: url must be a non-empty string');
    this.options = {
      autoConnect: true, reconnect: true, reconnectDelay: 500, maxReconnectDelay: 30_000,
      maxReconnectAttempts: Infinity, heartbeatInterval: 25_000, heartbeatTimeout: 10_000,
      maxQueuedPublishes: 1000, ackTimeout: 10_000, random: Math.random, tokenParameter: 'token', ...options,
    };
    for (const key of ['reconnectDelay', 'maxReconnectDelay', 'heartbeatInterval', 'heartbeatTimeout', 'ackTimeout'] as const) {
      if (!(this.options[key] > 0)) throw new TypeError(`livehub: option ${key} must be a positive number`);
    }
    this.detachGlobal = this.watchEnvironment();
    if (this.options.autoConnect) this.connect();
  }

  /** Opens the connection (again, after `close()`). */
  connect(): void {
    this.stopped = false;
    this.clearTimer('reconnectTimer');
    if (this.ws || this.opening) return;
    this.open();
  }

  /** Closes for good: nothing reconnects until `connect()` is called. Pending publishes are rejected. */
  close(): void {
    this.stopped = true;
    this.opening = null;
    this.clearTimer('reconnectTimer');
    this.stopHeartbeat();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      try { ws.close(CloseCode.Normal, 'client closed'); } catch { /* already closing */ }
    }
    this.failPending(new LiveError('closed', 'client closed'));
    this.setStatus('closed');
  }

  /** Removes browser listeners as well; the client cannot be reused afterwards. */
  dispose(): void {
    this.close();
    this.detachGlobal();
    this.listeners.clear();
  }

  /** Subscribes to a channel (kept across reconnects) until a matching `unsubscribe`. */
  subscribe(channel: string): void {
    this.want(channel, +1);
  }

  unsubscribe(channel: string): void {
    this.want(channel, -1);
  }

  /** Calls `handler(data, message)` for each message on `channel`; subscribes while any handler is on. */
  on<T = unknown>(channel: string, handler: MessageHandler<T>): () => void {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    if (set.has(handler as MessageHandler<never>)) return () => this.off(channel, handler);
    set.add(handler as MessageHandler<never>);
    this.want(channel, +1);
    return () => this.off(channel, handler);
  }

  off<T = unknown>(channel: string, handler: MessageHandler<T>): void {
    const set = this.handlers.get(channel);
    if (!set?.delete(handler as MessageHandler<never>)) return;
    if (set.size === 0) this.handlers.delete(channel);
    this.want(channel, -1);
  }

  /**
   * Publishes to a channel (the server must allow it). Resolves when the server acks, rejects on an
   * error frame, a timeout, or `close()`. Made while disconnected, it is queued and sent on open.
   */
  publish(channel: string, event: string, data?: unknown): Promise<void> {
    const id = `p${++this.nextId}`;
    const frame = JSON.stringify({ type: 'publish', channel, event, data: data ?? null, id });
    return new Promise<void>((resolve, reject) => {
      const entry: PendingPublish = { frame, resolve, reject, timer: null };
      this.pending.set(id, entry);
      if (this.status === 'open') return this.sendPublish(id, entry);
      this.outbox.push(id);
      if (this.outbox.length > this.options.maxQueuedPublishes) {
        this.settle(this.outbox.shift()!, new LiveError('queue_full', 'offline publish queue is full'));
      }
    });
  }

  addEventListener<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (...args: never[]) => void);
    return () => { set!.delete(listener as (...args: never[]) => void); };
  }

  /** Channels this client is (or will be, once open) subscribed to. */
  channels(): string[] {
    return [...this.wanted.keys()];
  }

  private want(channel: string, delta: 1 | -1): void {
    const count = (this.wanted.get(channel) ?? 0) + delta;
    if (count < 0) return;
    if (count === 0) this.wanted.delete(channel);
    else this.wanted.set(channel, count);
    const changed = (delta === 1 && count === 1) || (delta === -1 && count === 0);
    if (changed && channel !== BROADCAST_CHANNEL && this.status === 'open') {
      this.send({ type: delta === 1 ? 'subscribe' : 'unsubscribe', channel });
    }
  }

  private open(): void {
    const Ctor = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) throw new TypeError('livehub: no WebSocket implementation; pass options.WebSocket');
    this.setStatus(this.attempts === 0 ? 'connecting' : 'reconnecting');
    const { getToken } = this.options;
    if (!getToken) return this.openWith(Ctor, resolveUrl(this.url));
    const opening = Symbol('opening');
    this.opening = opening;
    Promise.resolve()
      .then(getToken)
      .then((token) => {
        if (this.opening !== opening || this.stopped) return;
        this.opening = null;
        this.openWith(Ctor, withToken(resolveUrl(this.url), this.options.tokenParameter, token));
      }, (error: Error) => {
        if (this.opening !== opening) return;
        this.opening = null;
        this.lastError = error;
        this.emit('error', error);
        this.scheduleReconnect();
      });
  }

  private openWith(Ctor: WebSocketConstructor, url: string): void {
    let ws: WebSocketLike;
    try {
      ws = new Ctor(url);
    } catch (error) {
      this.lastError = error as Error;
      this.emit('error', error as Error);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.onOpen();
    ws.onmessage = (event) => this.onMessage(event.data);
    ws.onclose = (event) => this.onClose(ws, event.code, event.reason);
    ws.onerror = () => { /* a close event follows */ };
  }

  private onOpen(): void {
    this.attempts = 0;
    this.lastError = null;
    this.setStatus('open');
    for (const channel of this.wanted.keys()) {
      if (channel !== BROADCAST_CHANNEL) this.send({ type: 'subscribe', channel });
    }
    for (const id of this.outbox.splice(0)) {
      const entry = this.pending.get(id);
      if (entry) this.sendPublish(id, entry);
    }
    this.armHeartbeat();
    this.emit('open');
  }

  private onMessage(raw: unknown): void {
    this.armHeartbeat();
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(String(raw));
    } catch {
      this.emit('error', new LiveError('bad_json', 'the server sent a message that is not JSON'));
      return;
    }
    if (message === null || typeof message !== 'object') return;
    if (typeof message.channel === 'string' && 'data' in message) {
      const hubMessage = message as unknown as HubMessage;
      this.emit('message', hubMessage);
      for (const handler of this.handlers.get(hubMessage.channel) ?? []) {
        (handler as MessageHandler)(hubMessage.data, hubMessage);
      }
      return;
    }
    const reply = message as unknown as ServerReply;
    if (reply.type === 'ack') this.settle(reply.id, null);
    if (reply.type === 'error') {
      const error = new LiveError(reply.code, reply.message, reply.channel);
      if (reply.id !== undefined && this.pending.has(reply.id)) this.settle(reply.id, error);
      else {
        this.lastError = error;
        this.emit('error', error);
      }
    }
    this.emit('reply', reply);
  }

  private onClose(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = null;
    detach(ws);
    this.stopHeartbeat();
    this.failPending(new LiveError('disconnected', 'connection lost before the server acknowledged'));
    this.emit('close', { code, reason });
    if (this.stopped) return;
    if (code === CloseCode.TokenExpired && this.options.reconnect) {
      // The credential expired: reconnect now, fetching a fresh token.
      this.clearTimer('reconnectTimer');
      this.setStatus('reconnecting');
      this.open();
      return;
    }
    if (!this.options.reconnect || !shouldReconnect(code)) {
      this.lastError = new LiveError('closed', `closed by the server: ${code} ${reason}`.trim());
      this.stopped = true;
      this.setStatus('closed');
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const { reconnectDelay, maxReconnectDelay, maxReconnectAttempts, random } = this.options;
    if (this.attempts >= maxReconnectAttempts) {
      this.lastError = new LiveError('reconnect_failed', `gave up after ${this.attempts} reconnect attempts`);
      this.stopped = true;
      this.setStatus('closed');
      return;
    }
    const ceiling = Math.min(maxReconnectDelay, reconnectDelay * 2 ** this.attempts);
    const delay = Math.floor(random() * ceiling);
    this.attempts++;
    this.setStatus('reconnecting');
    this.reconnectTimer = setTimeout(() => { this.reconnectTimer = null; this.open(); }, delay);
  }

  /** Reconnects now instead of waiting out the backoff (the network came back, the tab is visible). */
  private reconnectNow(): void {
    if (this.stopped || !this.reconnectTimer) return;
    this.clearTimer('reconnectTimer');
    this.open();
  }

  /** Arms the heartbeat: after `heartbeatInterval` of silence, ping; then expect traffic in time. */
  private armHeartbeat(): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setTimeout(() => this.probe(), this.options.heartbeatInterval);
  }

  private probe(): void {
    this.stopHeartbeat();
    if (this.status !== 'open') return;
    this.send({ type: 'ping' });
    this.watchdogTimer = setTimeout(() => this.dropDeadConnection(), this.options.heartbeatTimeout);
  }

  private dropDeadConnection(): void {
    const ws = this.ws;
    if (!ws) return;
    try { ws.close(4000, 'heartbeat timeout'); } catch { /* ignore */ }
    this.onClose(ws, 4000, 'heartbeat timeout');
  }

  private stopHeartbeat(): void {
    this.clearTimer('heartbeatTimer');
    this.clearTimer('watchdogTimer');
  }

  private sendPublish(id: RequestId, entry: PendingPublish): void {
    this.send(entry.frame);
    entry.timer = setTimeout(() => this.settle(id, new LiveError('timeout', 'no ack from the server in time')), this.options.ackTimeout);
  }

  private settle(id: RequestId, error: Error | null): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    if (error) entry.reject(error);
    else entry.resolve();
  }

  /** Rejects publishes already sent (their fate is unknown); queued ones wait for the next open. */
  private failPending(error: Error): void {
    const queued = new Set(this.outbox);
    for (const id of [...this.pending.keys()]) {
      if (this.stopped || !queued.has(id)) this.settle(id, error);
    }
    if (this.stopped) this.outbox.length = 0;
  }

  private send(message: object | string): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return;
    ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  private setStatus(status: LiveStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.emit('status', status);
  }

  private emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (...a: typeof args) => void)(...args);
  }

  private clearTimer(name: 'reconnectTimer' | 'heartbeatTimer' | 'watchdogTimer'): void {
    const timer = this[name];
    if (timer) clearTimeout(timer);
    this[name] = null;
  }

  /** In browsers: reconnect at once when the network returns or the page becomes visible. */
  private watchEnvironment(): () => void {
    const target = globalThis as { addEventListener?: typeof addEventListener; removeEventListener?: typeof removeEventListener; document?: Document };
    if (typeof target.addEventListener !== 'function') return () => {};
    const onOnline = () => this.reconnectNow();
    const onVisible = () => {
      if (target.document?.visibilityState !== 'visible') return;
      if (this.status === 'open') this.probe();
      else this.reconnectNow();
    };
    target.addEventListener('online', onOnline);
    target.document?.addEventListener('visibilitychange', onVisible);
    return () => {
      target.removeEventListener?.('online', onOnline);
      target.document?.removeEventListener('visibilitychange', onVisible);
    };
  }
}

function detach(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}

function withToken(url: string, parameter: string, token: string | null): string {
  if (token === null || token === undefined) return url;
  const parsed = new URL(url);
  parsed.searchParams.set(parameter, token);
  return parsed.toString();
}

/** Resolves a relative URL (`/ws`) against the page: `ws:` for http pages, `wss:` for https. */
export function resolveUrl(url: string): string {
  const location = (globalThis as { location?: Location }).location;
  if (/^wss?:\/\//i.test(url) || !location) return url;
  const resolved = new URL(url, location.href);
  resolved.protocol = resolved.protocol === 'https:' ? 'wss:' : 'ws:';
  return resolved.toString();
}
