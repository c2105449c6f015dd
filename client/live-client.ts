import { checkKnownOptions } from '../pkg/options-check.js';
import { ErrorCode, type HubMessage, type PresenceMember, type PresenceStatus, type ServerReply, type StreamPosition } from '../pkg/protocol/index.js';
import { LiveError } from './errors.js';
import type { LiveClientEvents, MessageHandler } from './events.js';
import type { LiveClientOptions } from './options.js';
import { Outbox } from './outbox.js';
import { dialectOf } from './dialect.js';
import { RefusalWarnings } from './refusals.js';
import { deprecated } from './deprecated.js';
import { appFrame, awaitReply, DirectHandlers, isDirect, requestTimeout, type DirectHandler, type DirectListeners, type RequestOptions, type SendOptions } from './request.js';
import { Subscriptions } from './subscriptions.js';
import { ClientPatterns } from './patterns.js';
import { Inbox, type InboxOptions } from './core/inbox.js';
import { ConnectionLifecycle } from './transport-lifecycle.js';

/**
 * A livehub connection that keeps itself alive: it reconnects with capped exponential backoff and
 * full jitter, gives up on an attempt that does not open within `connectTimeout`, resubscribes every
 * channel on every open (and retries a subscribe refused for a passing reason), queues subscribes,
 * publishes and requests made before open, watches the connection with heartbeats, and never
 * reconnects after `close()`. It talks over a WebSocket, Server-Sent Events, or either (`transport`),
 * with the same API on both.
 */
export class LiveClient extends ConnectionLifecycle {
  private readonly handlers = new Map<string, Set<MessageHandler<never>>>();
  private readonly directHandlers = new DirectHandlers();
  /**
   * Direct messages, which the server sends this connection alone (`kit.send(type, data)`: a frame
   * with no channel): `client.direct.on(type, (data, message) => …)` (`'*'`: every type) returns
   * the function that stops it; `client.direct.off(type, handler)` stops it too.
   */
  readonly direct: DirectListeners = this.directHandlers.view;
  private readonly outbox: Outbox;
  private readonly subscriptions: Subscriptions;
  private readonly patternSubscriptions: ClientPatterns;
  private readonly warnings = new RefusalWarnings();
  private readonly idBase = `${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36)}-`;
  private nextId = 0;

  /**
   * Publishes, requests and messages waiting in the outbox: made while disconnected (kept in
   * `outbox.storage` when set), or publishes sent and not acked yet. The `outbox` event tells changes.
   */
  get queued(): number {
    return this.outbox.size;
  }

  constructor(url: string, options: LiveClientOptions = {}) {
    super(url, options);
    this.outbox = new Outbox({
      send: (frame) => this.write(frame),
      isOpen: () => this.status === 'open',
      reportError: (error) => this.report(error),
      changed: (size) => this.emitter.emit('outbox', { size }),
    }, this.options);
    this.subscriptions = new Subscriptions({
      isOpen: () => this.status === 'open',
      confirms: () => this.connection?.confirms === true,
      send: (command) => this.write(JSON.stringify(command)),
      nextId: () => `${this.idBase}s${++this.nextId}`,
      recovered: (event) => this.emitter.emit('recovered', event),
      gap: (event) => this.emitter.emit('gap', event),
      subscribeError: (event) => {
        // A subscribe with no answer in time is the client's own `timeout`, retried: no refusal to warn of.
        if (event.error.code !== ErrorCode.Timeout) this.warnings.warn('subscribe', event.error, event.channel);
        this.lastError = event.error;
        this.emitter.emit('subscribeError', event);
        this.emitter.emit('error', event.error);
      },
      subscribed: (channel) => {
        if (this.lastError instanceof LiveError && this.lastError.channel === channel) this.lastError = null;
      },
    }, this.options);
    this.patternSubscriptions = new ClientPatterns({
      isOpen: () => this.status === 'open', send: (command) => this.write(JSON.stringify(command)),
      nextId: () => `${this.idBase}p${++this.nextId}`, refused: (error) => this.report(error),
    });
    this.outbox.restore();
    if (this.options.autoConnect) this.connect();
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

  /**
   * Calls `handler(data, message)` for each message on every channel `pattern` matches (MQTT topic
   * filter syntax: `sensors/+/temp`, `plant/#`; docs/protocol.md), `message.channel` naming its
   * channel; subscribed while any handler is on, again after each reconnect. Live only: nothing
   * published while disconnected is replayed. Throws a TypeError at once for a malformed pattern.
   */
  onPattern<T = unknown>(pattern: string, handler: MessageHandler<T>): () => void {
    return this.patternSubscriptions.on(pattern, handler);
  }

  off<T = unknown>(channel: string, handler: MessageHandler<T>): void {
    const set = this.handlers.get(channel);
    if (!set?.delete(handler as MessageHandler<never>)) return;
    if (set.size === 0) this.handlers.delete(channel);
    this.subscriptions.want(channel, -1);
  }

  /**
   * Publishes a message of `type` to a channel (the server must allow it). Resolves when the server
   * acks; rejects on an error frame, after `outbox.maxAttempts` sends without an ack, on overflow,
   * or on `close()`. Made while disconnected, it waits in the outbox and goes out, in order, on the next open; one sent but
   * not acked when the connection drops is sent again with the same id. `exceptSelf`: every
   * subscriber but this connection gets it. Throws a TypeError at once when `data` cannot be sent as
   * JSON (a BigInt, a cycle, a function) or for an unknown option.
   */
  publish(channel: string, type: string, data?: unknown, options: { exceptSelf?: boolean } = {}): Promise<void> {
    checkKnownOptions(options, ['exceptSelf'], 'client.publish()');
    return this.outbox.add(`${this.idBase}${++this.nextId}`, channel, type, data, options.exceptSelf === true);
  }

  /**
   * Sends a message of the application's own `type` to the server's handler (`hub.handle(type)`) and
   * resolves with its reply's data; rejects with a LiveError carrying the code of the server's error
   * (`unknown_type`, `timeout`, `internal`, the app's codes), `timeout` when no reply comes within
   * `timeout` ms of the send, `connection_lost` when the connection drops first (a request is never
   * sent twice), and `not_connected` at once when not connected, unless `queue: true` lets it wait
   * in the outbox for the next open. Throws a TypeError for a bad type, data or option.
   */
  request<T = unknown>(type: string, data?: unknown, options: RequestOptions = {}): Promise<T> {
    const id = `${this.idBase}q${++this.nextId}`;
    const frame = appFrame('request', type, data, id, options, ['timeout', 'queue']);
    const timeout = requestTimeout(options, this.options.requestTimeout);
    if (this.status !== 'open' && options.queue !== true) {
      return Promise.reject(new LiveError('not_connected', `not connected: request "${type}" was not sent (pass { queue: true } to wait for the connection)`));
    }
    return this.outbox.request(id, frame, type, timeout) as Promise<T>;
  }

  /**
   * Sends a message of the application's own `type` with no reply (fire-and-forget). Returns true when
   * sent (or queued, with `queue: true`), false when not connected (nothing is sent). Throws a
   * TypeError for a bad type, data or option.
   */
  send(type: string, data?: unknown, options: SendOptions = {}): boolean {
    const frame = appFrame('send', type, data, undefined, options, ['queue']);
    if (this.status === 'open') {
      this.write(frame);
      return true;
    }
    if (options.queue !== true) return false;
    this.outbox.message(`${this.idBase}m${++this.nextId}`, frame, type);
    return true;
  }

  /**
   * Calls `handler(data, message)` for each direct message of `type`; returns the function that stops it.
   * @deprecated Use `client.direct.on(type, handler)` (and `client.direct.off`); this warns once.
   */
  onMessage<T = unknown>(type: string, handler: DirectHandler<T>): () => void {
    deprecated('client.onMessage()', 'client.direct.on()');
    return this.direct.on(type, handler);
  }

  /** Asks for the members of a presence channel this client is subscribed to. */
  presence(channel: string): Promise<PresenceMember[]> {
    return this.command(channel, { type: 'presence', channel }, (reply) => (reply.type === 'presence' ? reply.members : []));
  }

  /** Sets this connection's status in a presence channel (others get an `update`). */
  setStatus(channel: string, status: PresenceStatus): Promise<void> {
    return this.command(channel, { type: 'status', channel, status }, () => undefined);
  }

  /**
   * The signed-in user's acknowledged stream (their personal channel, what `hub.sendToUser` writes):
   * messages from the user's last acknowledgement on any device, the unread count kept current on
   * every device, and `acknowledge()`. See client/core/inbox.ts.
   */
  inbox<T = unknown>(options: InboxOptions<T> = {}): Inbox<T> {
    return new Inbox<T>(this, options);
  }

  /** Where the user's own stream stands (`unread`): rejects `forbidden` when anonymous, `unsupported` when the hub's engine keeps no acknowledgements. */
  unread(): Promise<Extract<ServerReply, { type: 'unread' }>> {
    return this.command('', { type: 'unread' }, (reply) => reply as Extract<ServerReply, { type: 'unread' }>);
  }

  /** Acknowledges the user's own stream `channel` up to `position`, for every device of the user (`acknowledge`). */
  acknowledge(channel: string, position: StreamPosition): Promise<Extract<ServerReply, { type: 'unread' }>> {
    return this.command(channel, { type: 'acknowledge', channel, offset: position.offset, epoch: position.epoch }, (reply) => reply as Extract<ServerReply, { type: 'unread' }>);
  }

  /** Sends a command with an id; resolves with the reply carrying it, rejects on an error frame. */
  private command<T>(channel: string, command: object, read: (reply: ServerReply) => T): Promise<T> {
    if (this.status !== 'open') return Promise.reject(new LiveError('not_connected', 'not connected', channel));
    const id = `${this.idBase}r${++this.nextId}`;
    return awaitReply((listener) => this.events.on('reply', listener), id, channel, this.options.ackTimeout, read, () => this.write(JSON.stringify({ ...command, id })));
  }

  /** The last position seen on `channel` (what a reconnect resumes from). */
  position(channel: string): StreamPosition | undefined {
    return this.subscriptions.position(channel);
  }

  /**
   * Listens to one of the client's own events; returns the function that stops it.
   * @deprecated Use `client.events.on(event, listener)` (and `client.events.off`); this warns once.
   */
  addEventListener<K extends keyof LiveClientEvents>(event: K, listener: LiveClientEvents[K]): () => void {
    deprecated('client.addEventListener()', 'client.events.on()');
    return this.events.on(event, listener);
  }

  /** Channels this client is (or will be, once open) subscribed to. */
  channels(): string[] {
    return this.subscriptions.channels();
  }

  protected onFrame(text: string): void {
    // The plain protocol's hub writes the messages queued for a client in one frame, one per line.
    if (text.includes('\n')) {
      for (const line of text.split('\n')) if (line.trim() !== '') this.onMessageText(line);
      return;
    }
    this.onMessageText(text);
  }

  /**
   * The protocol of the open connection: `'livehub'` (full: ids, confirmations, recovery) or
   * `'plain'` (a hub that selected no subprotocol, such as the Go hub livehub began as); null while
   * not connected. See the `dialect` option.
   */
  get dialect(): 'livehub' | 'plain' | null {
    return this.connection?.isOpen ? this.connection.dialect : null;
  }

  private onMessageText(text: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text);
    } catch {
      this.emitter.emit('error', new LiveError('bad_json', 'the server sent a message that is not JSON'));
      return;
    }
    if (message === null || typeof message !== 'object') return;
    if (message.type === 'pong' && message.id === `${this.idBase}dialect`) {
      // A livehub hub answered on a plain connection: open one that speaks its full protocol.
      dialectOf(this.options, this.options.dialect).livehubAnswered();
      this.reopen('switching to the livehub protocol');
      return;
    }
    if (typeof message.channel === 'string' && 'data' in message) {
      const hubMessage = message as unknown as HubMessage;
      if (!this.subscriptions.accept(hubMessage)) return; // seen already
      this.emitter.emit('message', hubMessage);
      for (const handler of this.handlers.get(hubMessage.channel) ?? []) {
        (handler as MessageHandler)(hubMessage.data, hubMessage);
      }
      this.patternSubscriptions.deliver(hubMessage);
      return;
    }
    if (isDirect(message)) {
      const direct = { type: message.type, data: message.data ?? null };
      this.emitter.emit('direct', direct);
      this.directHandlers.deliver(direct);
      return;
    }
    if (this.patternSubscriptions.reply(message)) return void this.emitter.emit('reply', message as unknown as ServerReply);
    const reply = message as unknown as ServerReply;
    const answeredSubscribe = this.subscriptions.reply(reply);
    if (reply.type === 'presence' && reply.id === undefined) this.emitter.emit('presence', { channel: reply.channel, members: reply.members });
    if (reply.type === 'ack') this.outbox.settle(reply.id, null);
    if (reply.type === 'reply') this.outbox.settle(reply.id, null, reply.data);
    if (reply.type === 'error' && !answeredSubscribe) {
      const id = reply.id;
      const entry = id === undefined ? undefined : this.outbox.describe(id);
      if (entry) {
        // A refused publish or request: its promise rejects, and it shows in the state and events too.
        const error = new LiveError(reply.code, reply.message, reply.channel ?? entry.channel);
        if (this.outbox.refused(id!, error)) {
          this.warnings.warn(entry.kind === 'publish' ? 'publish' : 'request', error, entry.kind === 'publish' ? error.channel : entry.type);
          this.report(error);
        }
      } else {
        const error = new LiveError(reply.code, reply.message, reply.channel);
        // A refused presence command (`presence()`, `setStatus()`): its promise rejects as well.
        if (typeof id === 'string' && id.startsWith(`${this.idBase}r`)) this.warnings.warn('presence', error, reply.channel);
        this.report(error);
      }
    }
    this.emitter.emit('reply', reply);
  }

  protected sessionOpened(resumed: ReadonlyMap<string, StreamPosition>): void {
    // A plain connection may still reach a livehub hub (the last attempt offered no subprotocol): ask.
    if (this.connection?.dialect === 'plain' && this.options.dialect === 'auto') this.write(`{"type":"ping","id":"${this.idBase}dialect"}`);
    this.subscriptions.opened(resumed);
    this.patternSubscriptions.opened();
    const waiting = this.outbox.size;
    this.outbox.sendAll();
    // What waited while disconnected went out, in order.
    if (waiting > 0) this.emitter.emit('offline.queue.flushed', { count: waiting });
  }

  /** Unacked publishes stay in the outbox and go out again (same id) on the next open. */
  protected sessionPaused(): void {
    this.subscriptions.closed();
    this.outbox.pause();
  }

  protected sessionClosed(): void {
    this.outbox.rejectAll(new LiveError('closed', 'client closed'));
  }
}
