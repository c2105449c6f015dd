import {
  BROADCAST_CHANNEL, CloseCode, shouldReconnect,
  type HubMessage, type PresenceMember, type PresenceStatus, type RequestId, type ServerReply, type StreamPosition,
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
   * Publishes kept until acked (sent or waiting for a connection); beyond it, `queueOverflow` applies.
   * @default 1000
   */
  maxQueuedPublishes?: number;
  /**
   * When the outbox is full: `'drop-oldest'` rejects the oldest publish, `'reject'` the new one.
   * @default 'drop-oldest'
   */
  queueOverflow?: 'drop-oldest' | 'reject';
  /**
   * A publish not acked within this many ms is sent again with the same id (the server acks a retry
   * without publishing twice).
   * @default 10000
   */
  ackTimeout?: number;
  /**
   * Sends of one publish before it is rejected with `timeout`.
   * @default 5
   */
  maxPublishAttempts?: number;
  /**
   * Where to keep unacked publishes across page loads, e.g. `localStorage`. Kept entries are sent on
   * the next connect of a client with the same `storageKey`.
   * @default none (memory only)
   */
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
  /**
   * @default `livehub:outbox:<url>`
   */
  storageKey?: string;
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

/** A subscribe with a position was answered: what was missed is replayed next. */
export interface RecoveredEvent { channel: string; from: number; to: number }
/** Messages may be missing on `channel`: the server could not replay from the position held. */
export interface GapEvent { channel: string; position: StreamPosition }

interface ClientEvents {
  status: (status: LiveStatus) => void;
  /** The member list of a presence channel (after subscribing, or asked for). */
  presence: (event: { channel: string; members: PresenceMember[] }) => void;
  recovered: (event: RecoveredEvent) => void;
  gap: (event: GapEvent) => void;
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
  attempts: number;
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

  private readonly options: Required<Omit<LiveClientOptions, 'WebSocket' | 'getToken' | 'storage'>> &
    Pick<LiveClientOptions, 'WebSocket' | 'getToken' | 'storage'>;
  private ws: WebSocketLike | null = null;
  private readonly handlers = new Map<string, Set<MessageHandler<never>>>();
  /** Reference counts of wanted channels: `on()` handlers plus explicit `subscribe()` calls. */
  private readonly wanted = new Map<string, number>();
  private readonly listeners = new Map<keyof ClientEvents, Set<(...args: never[]) => void>>();
  /** Unacked publishes, in publish order. */
  private readonly pending = new Map<RequestId, PendingPublish>();
  /** The last position seen per subscribed channel. */
  private readonly positions = new Map<string, StreamPosition>();
  /** Positions sent with subscribes not answered yet. */
  private readonly asked = new Map<string, StreamPosition>();
  private readonly idBase = `${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36)}-`;
  private attempts = 0;
  private nextId = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdogTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** Set while `getToken()` runs before a connect. */
  private opening: symbol | null = null;
  /** Set while the browser reports no network; the `online` event reconnects. */
  private waitingForNetwork = false;
  private readonly detachGlobal: () => void;

  constructor(readonly url: string, options: LiveClientOptions = {}) {
    if (typeof url !== 'string' || url.length === 0) throw new TypeError('livehub: url must be a non-empty string');
    this.options = {
      autoConnect: true, reconnect: true, reconnectDelay: 500, maxReconnectDelay: 30_000,
      maxReconnectAttempts: Infinity, heartbeatInterval: 25_000, heartbeatTimeout: 10_000,
      maxQueuedPublishes: 1000, queueOverflow: 'drop-oldest', ackTimeout: 10_000, maxPublishAttempts: 5,
      random: Math.random, tokenParameter: 'token', storageKey: `livehub:outbox:${url}`, ...options,
    };
    for (const key of ['reconnectDelay', 'maxReconnectDelay', 'heartbeatInterval', 'heartbeatTimeout', 'ackTimeout'] as const) {
      if (!(this.options[key] > 0)) throw new TypeError(`livehub: option ${key} must be a positive number`);
    }
    this.detachGlobal = this.watchEnvironment();
    this.restoreOutbox();
    if (this.options.autoConnect) this.connect();
  }

  /** Opens the connection (again, after `close()`). */
  connect(): void {
    this.stopped = false;
    this.clearTimer('reconnectTimer');
    if (this.ws || this.opening) return;
    this.open();
  }

  /**
   * Closes for good: nothing reconnects until `connect()` is called. Pending publishes are rejected
   * (those in `storage` stay there, for the next client).
   */
  close(): void {
    this.stopped = true;
    this.opening = null;
    this.waitingForNetwork = false;
    this.clearTimer('reconnectTimer');
    this.stopHeartbeat();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      try { ws.close(CloseCode.Normal, 'client closed'); } catch { /* already closing */ }
    }
    for (const id of [...this.pending.keys()]) this.settle(id, new LiveError('closed', 'client closed'), false);
    this.setConnectionStatus('closed');
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

  /**
   * Calls `handler(data, message)` for each message on `channel`; subscribes while any handler is on.
   * `since` (a position from the server, e.g. in Inertia page props) resumes the channel from there:
   * nothing published after it is missed or delivered twice.
   */
  on<T = unknown>(channel: string, handler: MessageHandler<T>, options: { since?: StreamPosition } = {}): () => void {
    if (options.since && !this.positions.has(channel)) this.positions.set(channel, { ...options.since });
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
   * Publishes to a channel (the server must allow it). Resolves when the server acks; rejects on an
   * error frame, after `maxPublishAttempts` sends without an ack, on overflow, or on `close()`. Made
   * while disconnected, it waits in the outbox and goes out, in order, on the next open; one sent but
   * not acked when the connection drops is sent again with the same id.
   */
  publish(channel: string, event: string, data?: unknown): Promise<void> {
    const id = `${this.idBase}${++this.nextId}`;
    const frame = JSON.stringify({ type: 'publish', channel, event, data: data ?? null, id });
    return new Promise<void>((resolve, reject) => {
      if (this.pending.size >= this.options.maxQueuedPublishes) {
        if (this.options.queueOverflow === 'reject') return reject(new LiveError('queue_full', 'the publish outbox is full'));
        this.settle(this.pending.keys().next().value!, new LiveError('queue_full', 'dropped: the publish outbox is full'));
      }
      const entry: PendingPublish = { frame, resolve, reject, timer: null, attempts: 0 };
      this.pending.set(id, entry);
      this.saveOutbox();
      if (this.status === 'open') this.transmit(id, entry);
    });
  }

  /** Asks for the members of a presence channel this client is subscribed to. */
  presence(channel: string): Promise<PresenceMember[]> {
    return this.request({ type: 'presence', channel }, (reply) => (reply.type === 'presence' ? reply.members : []));
  }

  /** Sets this connection's status in a presence channel (others get an `update`). */
  setStatus(channel: string, status: PresenceStatus): Promise<void> {
    return this.request({ type: 'status', channel, status }, () => undefined);
  }

  /** Sends a command with an id; resolves with the reply carrying it, rejects on an error frame. */
  private request<T>(command: object, read: (reply: ServerReply) => T): Promise<T> {
    if (this.status !== 'open') return Promise.reject(new LiveError('not_connected', 'not connected'));
    const id = `${this.idBase}r${++this.nextId}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { stop(); reject(new LiveError('timeout', 'no answer in time')); }, this.options.ackTimeout);
      const stop = this.addEventListener('reply', (reply) => {
        if (!('id' in reply) || reply.id !== id) return;
        clearTimeout(timer);
        stop();
        if (reply.type === 'error') reject(new LiveError(reply.code, reply.message, reply.channel));
        else resolve(read(reply));
      });
      this.send({ ...command, id });
    });
  }

  /** The last position seen on `channel` (what a reconnect resumes from). */
  position(channel: string): StreamPosition | undefined {
    const position = this.positions.get(channel);
    return position && { ...position };
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
    if (!changed || channel === BROADCAST_CHANNEL) return;
    if (delta === -1) {
      this.positions.delete(channel);
      this.asked.delete(channel);
    }
    if (this.status !== 'open') return;
    if (delta === 1) this.sendSubscribe(channel);
    else this.send({ type: 'unsubscribe', channel });
  }

  /** Subscribes, resuming from the last position seen when there is one. */
  private sendSubscribe(channel: string): void {
    const since = this.positions.get(channel);
    if (since) this.asked.set(channel, { ...since });
    this.send(since ? { type: 'subscribe', channel, since } : { type: 'subscribe', channel });
  }

  private open(): void {
    const Ctor = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) throw new TypeError('livehub: no WebSocket implementation; pass options.WebSocket');
    if ((globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false) {
      // The browser says there is no network: wait for its `online` event instead of failing attempts.
      this.waitingForNetwork = true;
      this.setConnectionStatus('reconnecting');
      return;
    }
    this.setConnectionStatus(this.attempts === 0 ? 'connecting' : 'reconnecting');
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
    this.setConnectionStatus('open');
    this.asked.clear();
    for (const channel of this.wanted.keys()) {
      if (channel !== BROADCAST_CHANNEL) this.sendSubscribe(channel);
    }
    for (const [id, entry] of this.pending) this.transmit(id, entry);
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
      const position = this.positions.get(hubMessage.channel);
      if (position && typeof hubMessage.offset === 'number') {
        if (hubMessage.offset <= position.offset) return; // seen already
        position.offset = hubMessage.offset;
      }
      this.emit('message', hubMessage);
      for (const handler of this.handlers.get(hubMessage.channel) ?? []) {
        (handler as MessageHandler)(hubMessage.data, hubMessage);
      }
      return;
    }
    const reply = message as unknown as ServerReply;
    if (reply.type === 'subscribed') this.onSubscribed(reply);
    if (reply.type === 'presence' && reply.id === undefined) this.emit('presence', { channel: reply.channel, members: reply.members });
    if (reply.type === 'reset' && this.wanted.has(reply.channel)) {
      const position = { offset: reply.offset, epoch: reply.epoch };
      this.positions.set(reply.channel, position);
      this.emit('gap', { channel: reply.channel, position: { ...position } });
    }
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

  /** Records where a channel's stream stands; a subscribe with a position is recovered or a gap. */
  private onSubscribed(reply: Extract<ServerReply, { type: 'subscribed' }>): void {
    const { channel, offset, epoch, recovered } = reply;
    if (typeof offset !== 'number' || typeof epoch !== 'string' || !this.wanted.has(channel)) return;
    const asked = this.asked.get(channel);
    this.asked.delete(channel);
    if (asked && recovered === true) {
      // The replay follows; the position advances with it.
      this.positions.set(channel, asked);
      this.emit('recovered', { channel, from: asked.offset, to: offset });
      return;
    }
    this.positions.set(channel, { offset, epoch });
    if (asked) this.emit('gap', { channel, position: { offset, epoch } });
  }

  private onClose(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = null;
    detach(ws);
    this.stopHeartbeat();
    // Unacked publishes stay in the outbox and go out again (same id) on the next open.
    for (const entry of this.pending.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = null;
    }
    this.emit('close', { code, reason });
    if (this.stopped) return;
    if (code === CloseCode.TokenExpired && this.options.reconnect) {
      // The credential expired: reconnect now, fetching a fresh token.
      this.clearTimer('reconnectTimer');
      this.setConnectionStatus('reconnecting');
      this.open();
      return;
    }
    if (!this.options.reconnect || !shouldReconnect(code)) {
      this.lastError = new LiveError('closed', `closed by the server: ${code} ${reason}`.trim());
      this.stopped = true;
      this.setConnectionStatus('closed');
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
      this.setConnectionStatus('closed');
      return;
    }
    const ceiling = Math.min(maxReconnectDelay, reconnectDelay * 2 ** this.attempts);
    const delay = Math.floor(random() * ceiling);
    this.attempts++;
    this.setConnectionStatus('reconnecting');
    this.reconnectTimer = setTimeout(() => { this.reconnectTimer = null; this.open(); }, delay);
  }

  /** Reconnects now instead of waiting out the backoff (the network came back, the tab is visible). */
  private reconnectNow(): void {
    if (this.stopped || (!this.reconnectTimer && !this.waitingForNetwork)) return;
    this.waitingForNetwork = false;
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

  /** Sends a publish (again, with the same id, after an ack timeout or a reconnect). */
  private transmit(id: RequestId, entry: PendingPublish): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.attempts++;
    this.send(entry.frame);
    entry.timer = setTimeout(() => {
      entry.timer = null;
      if (entry.attempts >= this.options.maxPublishAttempts) {
        this.settle(id, new LiveError('timeout', `no ack after ${entry.attempts} attempts`));
      } else if (this.status === 'open') this.transmit(id, entry);
    }, this.options.ackTimeout);
  }

  /** Ends a publish: resolved (null) or rejected; `forget` also removes it from storage. */
  private settle(id: RequestId, error: Error | null, forget = true): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    if (forget) this.saveOutbox();
    if (error) entry.reject(error);
    else entry.resolve();
  }

  private saveOutbox(): void {
    const { storage, storageKey } = this.options;
    if (!storage) return;
    try {
      if (this.pending.size === 0) storage.removeItem(storageKey);
      else storage.setItem(storageKey, JSON.stringify([...this.pending].map(([id, entry]) => [id, entry.frame])));
    } catch (error) {
      this.emit('error', error as Error); // quota exceeded, storage disabled: the outbox stays in memory
    }
  }

  /** Takes publishes kept by an earlier page or client; they go out on the next open. */
  private restoreOutbox(): void {
    const { storage, storageKey } = this.options;
    if (!storage) return;
    let kept: unknown;
    try {
      kept = JSON.parse(storage.getItem(storageKey) ?? '[]');
    } catch {
      kept = [];
    }
    if (!Array.isArray(kept)) return;
    for (const item of kept) {
      if (!Array.isArray(item) || typeof item[0] !== 'string' || typeof item[1] !== 'string') continue;
      this.pending.set(item[0], { frame: item[1], resolve: () => {}, reject: () => {}, timer: null, attempts: 0 });
    }
  }

  private send(message: object | string): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return;
    ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  private setConnectionStatus(status: LiveStatus): void {
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
    // The network is gone: a socket that looks open is most likely dead (mobile handovers leave it
    // half-open for minutes). Drop it now; `online` brings the connection back.
    const onOffline = () => { if (this.ws) this.dropDeadConnection(); };
    const onVisible = () => {
      if (target.document?.visibilityState !== 'visible') return;
      if (this.status === 'open') this.probe();
      else this.reconnectNow();
    };
    target.addEventListener('online', onOnline);
    target.addEventListener('offline', onOffline);
    target.document?.addEventListener('visibilitychange', onVisible);
    return () => {
      target.removeEventListener?.('online', onOnline);
      target.removeEventListener?.('offline', onOffline);
      target.document?.removeEventListener('visibilitychange', onVisible);
    };
  }
}

function detach(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = null;
  // Keep an error handler: closing a socket that is still connecting makes `ws` (Node) emit an
  // error, which would be thrown with no listener.
  ws.onerror = () => {};
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
