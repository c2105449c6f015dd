import {
  CloseCode, shouldReconnect,
  type HubMessage, type PresenceMember, type PresenceStatus, type ServerReply, type StreamPosition,
} from '../pkg/protocol.js';
import { backoffDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import type { LiveClientEvents, LiveStatus, MessageHandler } from './events.js';
import { isOnline, watchEnvironment } from './environment.js';
import { Heartbeat } from './heartbeat.js';
import { clientErrors, LiveError } from './errors.js';
import { resolveOptions, type LiveClientOptions, type ResolvedOptions } from './options.js';
import { Outbox } from './outbox.js';
import { awaitReply } from './request.js';
import { detach, findWebSocket, resolveUrl, SUBPROTOCOL, withToken, type WebSocketConstructor, type WebSocketLike } from './socket.js';
import { Subscriptions } from './subscriptions.js';

/**
 * A livehub connection that keeps itself alive: it reconnects with capped exponential backoff and
 * full jitter, gives up on an attempt that does not open within `connectTimeout`, resubscribes every
 * channel on every open (and retries a subscribe refused for a passing reason), queues subscribes and
 * publishes made before open, watches the connection with heartbeats, and never reconnects after
 * `close()`.
 */
export class LiveClient {
  status: LiveStatus = 'idle';
  /**
   * The last error (a failed or timed-out connect, a terminal close, a failed reconnect budget, an
   * error frame, a refused subscribe); null again once the connection opens.
   */
  lastError: Error | null = null;

  private readonly options: ResolvedOptions;
  private ws: WebSocketLike | null = null;
  /** Whether `ws` has opened (a close before that is a failed connect). */
  private wsOpened = false;
  private readonly handlers = new Map<string, Set<MessageHandler<never>>>();
  private readonly events = new Emitter<LiveClientEvents>();
  private readonly heartbeat: Heartbeat;
  private readonly outbox: Outbox;
  private readonly subscriptions: Subscriptions;
  private readonly idBase = `${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36)}-`;
  private attempts = 0;
  private nextId = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** Set from the start of an attempt until its socket exists (finding a WebSocket, `getToken()`). */
  private opening: symbol | null = null;
  /** Set while the browser reports no network; the `online` event reconnects. */
  private waitingForNetwork = false;
  private readonly detachGlobal: () => void;

  constructor(readonly url: string, options: LiveClientOptions = {}) {
    if (typeof url !== 'string' || url.length === 0) throw new TypeError('livehub: url must be a non-empty string');
    this.options = resolveOptions(url, options);
    this.outbox = new Outbox({
      send: (frame) => this.send(frame),
      isOpen: () => this.status === 'open',
      reportError: (error) => this.events.emit('error', error),
    }, this.options);
    this.subscriptions = new Subscriptions({
      isOpen: () => this.status === 'open',
      confirms: () => this.ws?.protocol === SUBPROTOCOL,
      send: (command) => this.send(command),
      nextId: () => `${this.idBase}s${++this.nextId}`,
      recovered: (event) => this.events.emit('recovered', event),
      gap: (event) => this.events.emit('gap', event),
      subscribeError: (event) => {
        this.lastError = event.error;
        this.events.emit('subscribeError', event);
        this.events.emit('error', event.error);
      },
      subscribed: (channel) => {
        if (this.lastError instanceof LiveError && this.lastError.channel === channel) this.lastError = null;
      },
    }, this.options);
    this.heartbeat = new Heartbeat(this.options.heartbeatInterval, this.options.heartbeatTimeout,
      () => this.send({ type: 'ping' }), () => this.dropDeadConnection());
    this.detachGlobal = watchEnvironment({
      online: () => this.reconnectNow(),
      // The network is gone: a socket that looks open is most likely dead (mobile handovers leave it
      // half-open for minutes). Drop it now; `online` brings the connection back.
      offline: () => { if (this.ws) this.dropDeadConnection(); },
      visible: () => { if (this.status === 'open') this.heartbeat.probe(); else this.reconnectNow(); },
    });
    this.outbox.restore();
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
    this.waitingForNetwork = false;
    this.clearTimer('reconnectTimer');
    this.abandonAttempt(CloseCode.Normal, 'client closed');
    this.outbox.rejectAll(new LiveError('closed', 'client closed'));
    this.setConnectionStatus('closed');
  }

  /** Removes browser listeners as well; the client cannot be reused afterwards. */
  dispose(): void {
    this.close();
    this.detachGlobal();
    this.events.clear();
  }

  /** Subscribes to a channel (kept across reconnects) until a matching `unsubscribe`. */
  subscribe(channel: string): void {
    this.subscriptions.want(channel, +1);
  }

  unsubscribe(channel: string): void {
    this.subscriptions.want(channel, -1);
  }

  /**
   * Calls `handler(data, message)` for each message on `channel`; subscribes while any handler is on.
   * `since` (a position from the server, e.g. in Inertia page props) resumes the channel from there:
   * nothing published after it is missed or delivered twice.
   */
  on<T = unknown>(channel: string, handler: MessageHandler<T>, options: { since?: StreamPosition } = {}): () => void {
    if (options.since) this.subscriptions.startFrom(channel, options.since);
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    if (set.has(handler as MessageHandler<never>)) return () => this.off(channel, handler);
    set.add(handler as MessageHandler<never>);
    this.subscriptions.want(channel, +1);
    return () => this.off(channel, handler);
  }

  off<T = unknown>(channel: string, handler: MessageHandler<T>): void {
    const set = this.handlers.get(channel);
    if (!set?.delete(handler as MessageHandler<never>)) return;
    if (set.size === 0) this.handlers.delete(channel);
    this.subscriptions.want(channel, -1);
  }

  /**
   * Publishes to a channel (the server must allow it). Resolves when the server acks; rejects on an
   * error frame, after `maxPublishAttempts` sends without an ack, on overflow, or on `close()`. Made
   * while disconnected, it waits in the outbox and goes out, in order, on the next open; one sent but
   * not acked when the connection drops is sent again with the same id. Throws a TypeError at once
   * when `data` cannot be sent as JSON (a BigInt, a cycle, a function).
   */
  publish(channel: string, event: string, data?: unknown): Promise<void> {
    return this.outbox.add(`${this.idBase}${++this.nextId}`, channel, event, data);
  }

  /** Asks for the members of a presence channel this client is subscribed to. */
  presence(channel: string): Promise<PresenceMember[]> {
    return this.request(channel, { type: 'presence', channel }, (reply) => (reply.type === 'presence' ? reply.members : []));
  }

  /** Sets this connection's status in a presence channel (others get an `update`). */
  setStatus(channel: string, status: PresenceStatus): Promise<void> {
    return this.request(channel, { type: 'status', channel, status }, () => undefined);
  }

  /** Sends a command with an id; resolves with the reply carrying it, rejects on an error frame. */
  private request<T>(channel: string, command: object, read: (reply: ServerReply) => T): Promise<T> {
    if (this.status !== 'open') return Promise.reject(new LiveError('not_connected', 'not connected', channel));
    const id = `${this.idBase}r${++this.nextId}`;
    return awaitReply((listener) => this.addEventListener('reply', listener), id, channel, this.options.ackTimeout, read, () => this.send({ ...command, id }));
  }

  /** The last position seen on `channel` (what a reconnect resumes from). */
  position(channel: string): StreamPosition | undefined {
    return this.subscriptions.position(channel);
  }

  addEventListener<K extends keyof LiveClientEvents>(event: K, listener: LiveClientEvents[K]): () => void {
    return this.events.on(event, listener);
  }

  /** Channels this client is (or will be, once open) subscribed to. */
  channels(): string[] {
    return this.subscriptions.channels();
  }

  /** Starts an attempt: finds a WebSocket, asks `getToken()`, opens; all within `connectTimeout`. */
  private open(): void {
    if (!isOnline()) {
      // The browser says there is no network: wait for its `online` event instead of failing attempts.
      this.waitingForNetwork = true;
      this.setConnectionStatus('reconnecting');
      return;
    }
    this.setConnectionStatus(this.attempts === 0 ? 'connecting' : 'reconnecting');
    const attempt = Symbol('attempt');
    this.opening = attempt;
    this.connectTimer = setTimeout(() => this.connectTimedOut(), this.options.connectTimeout);
    const found = findWebSocket(this.options.WebSocket);
    const { getToken, tokenParameter } = this.options;
    if (typeof found === 'function' && !getToken) return this.openWith(found, resolveUrl(this.url));
    Promise.all([found, getToken ? Promise.resolve().then(getToken) : null]).then(([Ctor, token]) => {
      if (this.opening !== attempt || this.stopped) return;
      if (Ctor instanceof Error) return this.giveUp(clientErrors.noWebSocket(Ctor));
      this.openWith(Ctor, getToken ? withToken(resolveUrl(this.url), tokenParameter, token) : resolveUrl(this.url));
    }, (error: Error) => {
      if (this.opening !== attempt) return;
      this.opening = null;
      this.clearTimer('connectTimer');
      this.report(error);
      this.scheduleReconnect();
    });
  }

  private openWith(Ctor: WebSocketConstructor, url: string): void {
    this.opening = null;
    let ws: WebSocketLike;
    try {
      ws = new Ctor(url, [SUBPROTOCOL]);
    } catch (error) {
      this.clearTimer('connectTimer');
      this.report(error as Error);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.wsOpened = false;
    ws.onopen = () => this.onOpen();
    ws.onmessage = (event) => this.onMessage(event.data);
    ws.onclose = (event) => this.onClose(ws, event.code, event.reason);
    ws.onerror = () => { /* a close event follows */ };
  }

  /** The attempt did not open in time: close it, say so, and try again with backoff. */
  private connectTimedOut(): void {
    this.connectTimer = null;
    if (this.status === 'open') return;
    this.abandonAttempt();
    this.report(clientErrors.connectTimeout(this.url, this.options.connectTimeout));
    this.scheduleReconnect();
  }

  /** Drops the attempt or connection in progress without reporting its close. */
  private abandonAttempt(code?: number, reason?: string): void {
    const ws = this.teardown();
    if (!ws) return;
    try {
      // A browser's close() takes 1000 or 3000-4999; a socket still connecting is just dropped.
      if (ws.readyState === 1 && code !== undefined) ws.close(code, reason);
      else ws.close();
    } catch { /* already closing */ }
  }

  /** Stops the timers and in-flight work of the current attempt; returns its socket, detached. */
  private teardown(): WebSocketLike | null {
    this.opening = null;
    this.clearTimer('connectTimer');
    this.heartbeat.stop();
    this.subscriptions.closed();
    // Unacked publishes stay in the outbox and go out again (same id) on the next open.
    this.outbox.pause();
    const ws = this.ws;
    this.ws = null;
    if (ws) detach(ws);
    return ws;
  }

  private onOpen(): void {
    this.clearTimer('connectTimer');
    this.wsOpened = true;
    this.attempts = 0;
    this.lastError = null;
    this.setConnectionStatus('open');
    this.subscriptions.opened();
    this.outbox.sendAll();
    this.heartbeat.arm();
    this.events.emit('open');
  }

  private onMessage(raw: unknown): void {
    this.heartbeat.arm();
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(String(raw));
    } catch {
      this.events.emit('error', new LiveError('bad_json', 'the server sent a message that is not JSON'));
      return;
    }
    if (message === null || typeof message !== 'object') return;
    if (typeof message.channel === 'string' && 'data' in message) {
      const hubMessage = message as unknown as HubMessage;
      if (!this.subscriptions.accept(hubMessage)) return; // seen already
      this.events.emit('message', hubMessage);
      for (const handler of this.handlers.get(hubMessage.channel) ?? []) {
        (handler as MessageHandler)(hubMessage.data, hubMessage);
      }
      return;
    }
    const reply = message as unknown as ServerReply;
    const answeredSubscribe = this.subscriptions.reply(reply);
    if (reply.type === 'presence' && reply.id === undefined) this.events.emit('presence', { channel: reply.channel, members: reply.members });
    if (reply.type === 'ack') this.outbox.settle(reply.id, null);
    if (reply.type === 'error' && !answeredSubscribe) {
      const id = reply.id;
      if (id !== undefined && this.outbox.has(id)) {
        this.outbox.settle(id, new LiveError(reply.code, reply.message, reply.channel ?? this.outbox.channelOf(id)));
      } else this.report(new LiveError(reply.code, reply.message, reply.channel));
    }
    this.events.emit('reply', reply);
  }

  private onClose(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.ws) return;
    const opened = this.wsOpened;
    this.teardown();
    this.events.emit('close', { code, reason });
    if (this.stopped) return;
    if (!opened) this.report(clientErrors.connectFailed(this.url, code, reason));
    if (code === CloseCode.TokenExpired && this.options.reconnect) {
      // The credential expired: reconnect now, fetching a fresh token.
      this.clearTimer('reconnectTimer');
      this.setConnectionStatus('reconnecting');
      this.open();
      return;
    }
    if (!this.options.reconnect || !shouldReconnect(code)) {
      this.giveUp(new LiveError('closed', `closed by the server: ${code} ${reason}`.trim()));
      return;
    }
    this.scheduleReconnect();
  }

  /** Stops for good (status `closed`) with an error saying why. */
  private giveUp(error: LiveError): void {
    this.clearTimer('connectTimer');
    this.opening = null;
    this.stopped = true;
    this.lastError = error;
    this.setConnectionStatus('closed');
    this.events.emit('error', error);
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const { reconnectDelay, maxReconnectDelay, maxReconnectAttempts, random } = this.options;
    if (this.attempts >= maxReconnectAttempts) {
      return this.giveUp(new LiveError('reconnect_failed', `gave up after ${this.attempts} reconnect attempts`));
    }
    const delay = backoffDelay(this.attempts, reconnectDelay, maxReconnectDelay, random);
    this.attempts++;
    this.setConnectionStatus('reconnecting');
    this.reconnectTimer = setTimeout(() => { this.reconnectTimer = null; this.open(); }, delay);
  }

  /**
   * Reconnects now (the network came back, the page became visible): instead of waiting out the
   * backoff, and in place of an attempt still connecting, which may be stuck.
   */
  private reconnectNow(): void {
    if (this.stopped) return;
    const connecting = this.opening !== null || (this.ws !== null && !this.wsOpened);
    if (!this.reconnectTimer && !this.waitingForNetwork && !connecting) return;
    this.waitingForNetwork = false;
    this.clearTimer('reconnectTimer');
    if (connecting) this.abandonAttempt();
    this.open();
  }

  private dropDeadConnection(): void {
    const ws = this.ws;
    if (!ws) return;
    try { ws.close(4000, 'heartbeat timeout'); } catch { /* ignore */ }
    this.onClose(ws, 4000, 'heartbeat timeout');
  }

  private send(message: object | string): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return;
    ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  private report(error: Error): void {
    this.lastError = error;
    this.events.emit('error', error);
  }

  private setConnectionStatus(status: LiveStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.events.emit('status', status);
  }

  private clearTimer(name: 'reconnectTimer' | 'connectTimer'): void {
    const timer = this[name];
    if (timer) clearTimeout(timer);
    this[name] = null;
  }
}
