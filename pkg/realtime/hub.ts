import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import {
  CloseCode, clampCloseReason, ErrorCode, isValidEventType, NAME_CHARACTERS, withId,
  type ClientCommand, type HubMessage, type PresenceMember, type ServerReply,
} from '../protocol.js';
import type { Engine, PublishResult, StreamPosition } from '../engine/engine.js';
import { MemoryEngine } from '../engine/memory.js';
import type { Transport } from '../transport/transport.js';
import { Gate } from '../transport/gate.js';
import { WebSocketEndpoint } from '../transport/websocket/server.js';
import { EventSourceEndpoint } from '../transport/sse/endpoint.js';
import { attachRequests, detachRequests } from '../transport/attach.js';
import type { Identity } from './auth.js';
import type { HubEventListener, HubEventName } from './events.js';
import { sessionInfo } from './events.js';
import { CONTROL_CHANNEL, HubLoop } from './loop.js';
import { after } from './maybe.js';
import { checkKnownOptions } from '../options-check.js';
import { historyPolicy, resolveOptions, type HubOptions, type ResolvedHubOptions } from './options.js';
import { userChannel, type RequestInfo } from './policy.js';
import { isPresenceChannel, members, Presence, userSet } from './presence.js';
import type { Handler, Middleware, Toolkit } from './handlers.js';
import { isBuiltIn } from './inbound.js';
import { checkChannel, checkType, encodeData, Publisher, publisherOf, type HubPublishOptions } from './publisher.js';
import { createReporter, LivehubError, type Reporter } from './report.js';
import { Router } from './router.js';
import { Session, type HubCounters } from './session.js';

/** Counts, for monitoring and tests. */
export interface HubStats {
  clients: number;
  channels: number;
}

/**
 * The hub: its loop (see loop.ts), the server-side API (publish, users, presence, close) and the
 * transports it serves. This file is the composition root: the loop, sessions and the router never
 * import a transport; transports reach the hub through `SessionOpener` (see transport.ts).
 */
export class Hub extends HubLoop {
  readonly options: ResolvedHubOptions;
  readonly reporter: Reporter;
  protected readonly engine: Engine;
  protected readonly presence: Presence;
  private readonly ownsEngine: boolean;
  private readonly router: Router;
  private readonly gate: Gate;
  private readonly webSocket: WebSocketEndpoint;
  private readonly eventSource: EventSourceEndpoint;
  /** Servers whose plain requests to a path this hub serves (attach's `eventsPath`). */
  private readonly requestPaths = new Map<Server, string>();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly idPrefix = Math.random().toString(36).slice(2, 8);
  private readonly startedAt = Date.now();
  private readonly publisher: Publisher;
  private nextId = 0;

  constructor(options: HubOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.reporter = createReporter(this.options);
    this.ownsEngine = !this.options.engine;
    this.engine = this.options.engine ?? new MemoryEngine();
    const { reporter } = this;
    void Promise.resolve(this.engine.start({
      deliver: (publication) => this.enqueue({ kind: 'publication', publication }),
      reset: (channel, position) => this.enqueue({ kind: 'reset', channel, position }),
      log: (level, cause, context, message) => reporter.report(level, context.code, message, context.err, cause),
    })).then(() => Promise.all([this.engine.subscribe(CONTROL_CHANNEL), this.engine.subscribe(`#node:${this.node}`)])).catch((error: Error) =>
      reporter.report('error', 'engine_start_failed', `livehub: the engine did not start: ${error.message}; cross-node commands (disconnectUser) will not arrive until it does`, error));
    this.presence = new Presence(this.engine, this, () => this.sessions);
    this.publisher = new Publisher(this.engine, this.options, reporter, this.events, () => this.closing !== null);
    this.router = new Router(this);
    this.gate = new Gate(this.options, this.reporter);
    this.webSocket = new WebSocketEndpoint(this, this.gate);
    this.eventSource = new EventSourceEndpoint(this, this.gate);
    const { pingPeriod, pongWait } = this.options;
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(10, Math.min(pingPeriod, pongWait - pingPeriod)));
    this.sweepTimer.unref();
  }

  /** The frame codec in use (`'js'` or `'wasm'`). */
  get codecName(): 'js' | 'wasm' {
    return this.webSocket.codec.name;
  }

  /**
   * Answers the application's own message type from any transport: `{"type": type, "data": …, "id": …}`.
   * The handler's return value (or `kit.reply`) answers the id with `{"type":"reply","id":…,"data":…}`;
   * `kit.fail(code)` or an error with a `code` answers with that error; any other error answers
   * `internal` and is logged with its stack. See handlers.ts for the context and the toolkit.
   */
  handle(type: string, handler: Handler): this {
    if (!isValidEventType(type) || isBuiltIn(type)) {
      throw new TypeError(`livehub: cannot handle ${JSON.stringify(type)}: ${isBuiltIn(type) ? 'it is a built-in command (use hub.use(type, middleware))' : `use 1-255 characters of ${NAME_CHARACTERS}`}`);
    }
    if (typeof handler !== 'function') throw new TypeError('livehub: a handler must be a function');
    if (this.router.table.handlers.has(type)) throw new TypeError(`livehub: ${JSON.stringify(type)} already has a handler`);
    this.router.table.handlers.set(type, handler);
    return this;
  }

  /**
   * Middleware, Koa-style (`await next()` continues): `hub.use(mw)` for every message, built-in or
   * not, and `hub.use(type, mw)` (or `'*'`) for one type. It runs before handlers and before the
   * built-in commands' channel policy; throwing an error with a `code` answers with that code.
   */
  use(typeOrMiddleware: string | Middleware, middleware?: Middleware): this {
    const [type, fn] = typeof typeOrMiddleware === 'string' ? [typeOrMiddleware, middleware] : ['*', typeOrMiddleware];
    if (typeof fn !== 'function') throw new TypeError('livehub: middleware must be a function');
    const { table } = this.router;
    if (type === '*') table.global.push(fn);
    else {
      if (!isValidEventType(type)) throw new TypeError(`livehub: cannot use middleware for ${JSON.stringify(type)}: use 1-255 characters of ${NAME_CHARACTERS}, or '*'`);
      table.byType.set(type, [...(table.byType.get(type) ?? []), fn]);
    }
    return this;
  }

  /** Listens to a hub event (see events.ts); returns the function that stops listening. */
  on<K extends HubEventName>(name: K, listener: HubEventListener<K>): () => void {
    return this.events.on(name, listener);
  }

  /**
   * Publishes `{channel, type, data}` to the channel's subscribers (`"*"`: to every client). Safe from
   * any handler at any time; never blocks: the message is serialized now and fanned out on the turn
   * after the engine gave it its stream position.
   *
   * Resolves with that position once the message has it (so a handler that awaits it before answering
   * orders sequential requests, across nodes too). Rejects with an Error whose `code` is
   * `unavailable` (the engine failed or timed out; nothing was published) or `closed` (the hub is
   * closing). Awaiting is optional: a failure is logged either way, and a promise nobody awaits never
   * becomes an unhandled rejection. Throws a TypeError at once for an invalid channel or type, or
   * data that JSON cannot encode (BigInt, a cycle).
   */
  publish(channel: string, type: string, data?: unknown, options?: HubPublishOptions): Promise<PublishResult> {
    return this.publisher.publish(channel, type, data, options);
  }

  /** The channel's current stream position (for pages that resume from it, see livehub/inertia). */
  async position(channel: string): Promise<StreamPosition> {
    checkChannel(channel);
    return (await this.engine.history(channel, null)).position;
  }

  /** Publishes a whole message, as the Go hub's `Broadcast(msg)`. */
  broadcast(message: HubMessage): Promise<PublishResult> {
    if (message === null || typeof message !== 'object') throw new TypeError('livehub: message must be an object');
    return this.publish(message.channel, message.type, message.data);
  }

  /**
   * The channel's last `limit` publications still in history (at most the channel's history size),
   * oldest first, with its current position. `complete` is false when history no longer holds all
   * of them (expired by `ttl`): then none are returned, never a partial range.
   */
  async history(channel: string, options: { limit?: number } = {}): Promise<{ position: StreamPosition; messages: HubMessage[]; complete: boolean }> {
    checkChannel(channel);
    const { limit = 100 } = options;
    if (!Number.isInteger(limit) || limit < 0) throw new TypeError('livehub: history limit must be a whole number');
    const { position } = await this.engine.history(channel, null);
    const wanted = Math.min(limit, historyPolicy(this.options, channel).size, position.offset);
    if (wanted === 0) return { position, messages: [], complete: true };
    const result = await this.engine.history(channel, { offset: position.offset - wanted, epoch: position.epoch });
    const messages = result.publications.map((p) => JSON.parse(p.payload) as HubMessage);
    return { position: result.position, messages, complete: result.recovered };
  }

  /** The members of a presence channel, across every node sharing the engine. */
  async presenceOf(channel: string): Promise<PresenceMember[]> {
    checkChannel(channel);
    return members(await this.engine.presence(channel));
  }

  /** This node's channels with local subscribers, and how many each. */
  channelList(): Array<{ channel: string; subscribers: number }> {
    return [...this.channels].filter(([name]) => !name.startsWith('#')).map(([channel, sessions]) => ({ channel, subscribers: sessions.size }));
  }

  /** This node: its id, connections by transport, channels, users, and uptime. */
  info(): { node: string; connections: Record<string, number>; channels: number; users: number; uptime: number } {
    const connections: Record<string, number> = {};
    for (const session of this.sessions) connections[session.transport.name] = (connections[session.transport.name] ?? 0) + 1;
    return { node: this.idPrefix, connections, channels: this.channels.size, users: this.users.size, uptime: Date.now() - this.startedAt };
  }

  /**
   * Express (or connect) handler: `app.get('/ws', hub.handleWebSocket)`. Middleware before it runs
   * before the upgrade. A non-upgrade request gets 426 Upgrade Required.
   */
  readonly handleWebSocket = (request: IncomingMessage, response: ServerResponse): void => {
    this.webSocket.handleRequest(request, response);
  };

  /**
   * Server-Sent Events, for both methods: `app.all('/events', hub.handleEventSource)`. `GET` opens a
   * stream (`?channel=a&channel=b`), resumed from `Last-Event-ID`; `POST` with the stream's token
   * sends it a command. See docs/protocol.md, "Server-Sent Events".
   */
  readonly handleEventSource = (request: IncomingMessage, response: ServerResponse): void => {
    this.eventSource.handleRequest(request, response);
  };

  /**
   * Attaches to a plain `http.Server`. With `path`, upgrades to that path go to this hub. Without
   * one, upgrades are routed through the server's request handler, for `app.get(path,
   * hub.handleWebSocket)` on Express; calling this at startup is optional but saves the first
   * connection a detour. With `eventsPath`, requests to that path are the SSE endpoint.
   */
  attach(server: Server, options: { path?: string; eventsPath?: string } = {}): this {
    checkKnownOptions(options, ['path', 'eventsPath'], 'hub.attach()');
    const { path, eventsPath } = options;
    for (const [name, value] of [['path', path], ['eventsPath', eventsPath]] as const) {
      if (value !== undefined && (typeof value !== 'string' || !value.startsWith('/'))) {
        throw new TypeError(`livehub: attach ${name} must be a string starting with "/"`);
      }
    }
    this.webSocket.watch(server, path);
    if (eventsPath !== undefined) {
      attachRequests(server, eventsPath, this.handleEventSource);
      this.requestPaths.set(server, eventsPath);
    }
    return this;
  }

  /**
   * Completes an upgrade from a raw `upgrade` event. Before the upgrade: 503 while closing or over
   * `maxConnections`, 403 for a refused origin, 400 for a malformed handshake, 429 over the per-IP or
   * per-user caps, and the authenticator's status (401 by default) for a refused credential.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.webSocket.handleUpgrade(request, socket, head);
  }

  /**
   * Adopts an open `ws` connection (for apps that run their own WebSocketServer). Connection caps and
   * authentication are then the app's; pass the identity it established, if any.
   */
  addConnection(ws: WebSocket, request: IncomingMessage, identity: Identity | null = null): void {
    this.webSocket.adopt(ws, request, identity);
  }

  /**
   * Closes every connection of a user with 4503 (terminal: the client does not reconnect), on every
   * node sharing the engine. Resolves once the command is out; rejects (code `unavailable`) if the
   * engine could not take it.
   */
  disconnectUser(userId: string, reason = 'disconnected by the server'): Promise<void> {
    if (typeof userId !== 'string' || !userId) throw new TypeError('livehub: userId must be a non-empty string');
    if (typeof reason !== 'string') throw new TypeError('livehub: reason must be a string');
    const sent = Promise.resolve()
      .then(() => this.engine.publish(CONTROL_CHANNEL, 'disconnect-user', JSON.stringify({ userId, reason: clampCloseReason(reason) }), { size: 0, ttl: 1000 }))
      .then(() => {}, (error: unknown) => {
        const failure = new LivehubError(ErrorCode.Unavailable, `livehub: disconnectUser(${JSON.stringify(userId)}) failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        this.reporter.report('error', 'disconnect_failed', `${failure.message}; the user's connections stay open`, failure);
        throw failure;
      });
    sent.catch(() => {});
    return sent;
  }

  /** Whether the user has a live connection to any node sharing the engine. */
  async isUserConnected(userId: string): Promise<boolean> {
    return (await this.connectedClients(userId)).length > 0;
  }

  /** Ids of the user's live connections, on every node sharing the engine. */
  async connectedClients(userId: string): Promise<string[]> {
    return (await this.engine.presence(userSet(userId))).map((entry) => entry.clientId);
  }

  /** Publishes to the user's personal channel `user:<id>`, which each of their connections is in. */
  sendToUser(userId: string, type: string, data?: unknown): Promise<PublishResult> {
    return this.publish(userChannel(userId), type, data);
  }

  /** `sendToUser` for several users; resolves once every publish has. */
  sendToUsers(userIds: Iterable<string>, type: string, data?: unknown): Promise<PublishResult[]> {
    checkType(type);
    const dataJson = encodeData(data);
    const sent = Promise.all([...userIds].map((userId) => {
      const channel = userChannel(userId);
      checkChannel(channel);
      return this.publisher.publishJson(channel, type, dataJson);
    }));
    sent.catch(() => {});
    return sent;
  }

  /** Counts of connected clients and non-empty channels. */
  stats(): HubStats {
    return { clients: this.sessions.size, channels: this.channels.size };
  }

  /** Running totals since the hub started: transport writes, frames, bytes, slow-consumer evictions. */
  metrics(): HubCounters & HubStats {
    return { ...this.counters, ...this.stats() };
  }

  /**
   * Stops accepting connections, runs what is queued, then closes every client with 1001 once its
   * queued frames are written (or `writeWait` has passed). Resolves when every connection is closed.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    clearInterval(this.sweepTimer);
    this.presence.close();
    this.turn();
    const closed = [...this.sessions].map((session) => session.shutdown(CloseCode.GoingAway, 'server shutting down'));
    this.closing = Promise.all(closed).then(async () => {
      this.webSocket.close();
      for (const [server, path] of this.requestPaths) detachRequests(server, path);
      if (this.ownsEngine) await this.engine.close();
    });
    return this.closing;
  }

  // SessionOpener and SseHost: called by transports.

  get isClosing(): boolean {
    return this.closing !== null;
  }

  /** This node's id: the first part of its session ids and stream tokens. */
  get node(): string {
    return this.idPrefix;
  }

  forward(node: string, token: string, text: string): Promise<void> {
    return Promise.resolve()
      .then(() => this.engine.publish(`#node:${node}`, 'forward', JSON.stringify({ token, text }), { size: 0, ttl: 1000 }))
      .then(() => {}, (error: unknown) => {
        this.reporter.report('error', 'forward_failed', `livehub: a command for a stream on node ${node} could not be sent through the engine: ${error instanceof Error ? error.message : String(error)}; the client retries`, error);
        throw error;
      });
  }

  onForwarded(handler: (token: string, text: string) => void): void {
    this.forwarded = handler;
  }

  open(transport: Transport, request: RequestInfo, identity: Identity | null, fullProtocol: boolean): Session {
    const session = new Session(`${this.idPrefix}-${++this.nextId}`, transport, request, this, identity, fullProtocol);
    this.enqueue({ kind: 'register', session });
    return session;
  }

  // SessionHost and RouterHost: called by sessions and the router; each only queues.

  receive(session: Session, text: string): void {
    this.router.receive(session, text);
  }

  command(session: Session, command: ClientCommand): void {
    switch (command.type) {
      case 'subscribe':
        this.enqueue({ kind: 'subscribe', session, channel: command.channel, id: command.id, since: command.since });
        break;
      case 'unsubscribe':
        this.enqueue({ kind: 'unsubscribe', session, channel: command.channel, id: command.id });
        break;
      case 'publish':
        this.publisher.fromClient(session, command, (to, reply) => this.reply(to, reply));
        break;
      case 'ping':
        this.reply(session, withId({ type: 'pong' }, command.id));
        break;
      case 'presence':
      case 'status': {
        const { channel, id } = command;
        if (!isPresenceChannel(channel) || !session.presence?.has(channel)) {
          this.reply(session, withId({ type: 'error', code: ErrorCode.Forbidden, channel, message: `subscribe to ${channel} first` }, id));
          break;
        }
        if (command.type === 'presence') this.presence.list(session, channel, id);
        else this.presence.status(session, channel, command.status, id);
        break;
      }
    }
  }

  reply(session: Session, reply: ServerReply): void {
    this.enqueue({ kind: 'reply', session, reply });
  }

  unregister(session: Session): void {
    this.enqueue({ kind: 'unregister', session });
  }

  closeSession(session: Session, code: number, reason: string): void {
    this.enqueue({ kind: 'close', session, code, reason });
  }

  toolkit(session: Session): Omit<Toolkit, 'reply' | 'fail'> {
    return {
      join: async (room) => {
        checkChannel(room);
        this.enqueue({ kind: 'subscribe', session, channel: room });
      },
      leave: async (room) => {
        checkChannel(room);
        this.enqueue({ kind: 'unsubscribe', session, channel: room });
      },
      publish: (channel, type, data, options = {}) => {
        checkChannel(channel);
        checkType(type);
        return this.publisher.publishJson(channel, type, encodeData(data), { from: publisherOf(session, options.exceptSelf === true) });
      },
      send: (type, data) => {
        checkType(type);
        this.reply(session, { type, data: data === undefined ? null : data } as unknown as ServerReply);
      },
      sendToUser: (userId, type, data) => this.sendToUser(userId, type, data),
      broadcast: (type, data) => this.publish('*', type, data),
    };
  }

  presenceChanged(channel: string, userId: string, joined: boolean): void {
    const name = joined ? 'presence.joined' : 'presence.left';
    if (this.events.listening[name]) this.events.emit(name, { channel, userId });
  }

  evicted(session: Session, why: string): void {
    this.reporter.report('warn', 'slow_consumer',
      `livehub: evicted ${session.id}${session.identity ? ` (user ${session.identity.userId})` : ''} from ${session.request.socket?.remoteAddress ?? 'unknown'} as a slow consumer (4001): ${why}; ` +
      'the client reconnects and recovers from history; raise sendBuffer/maxBufferedBytes/writeWait if readers this slow are expected');
    if (this.events.listening.evicted) this.events.emit('evicted', { session: sessionInfo(session), reason: why });
  }
}
