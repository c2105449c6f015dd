import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { CloseCode, ErrorCode, isValidType, NAME_CHARACTERS, withId, type ClientCommand, type ServerReply } from '../protocol/index.js';
import type { Engine } from '../engine/engine.js';
import { MemoryEngine } from '../engine/memory.js';
import { checkKnownOptions } from '../options-check.js';
import type { Transport } from '../transport/transport.js';
import { attachRequests, detachRequests } from '../transport/attach.js';
import { Gate } from '../transport/gate.js';
import { createHttpApi, type HttpApiHandler, type HttpApiOptions } from '../transport/http/api.js';
import { EventSourceEndpoint } from '../transport/sse/endpoint.js';
import { WebSocketEndpoint } from '../transport/websocket/server.js';
import { HubApi } from './api.js';
import type { Identity } from './auth.js';
import { sessionInfo, type HubEventListener, type HubEventMap, type HubEventName } from './events.js';
import type { Handler, Middleware, Toolkit } from './handlers.js';
import { isBuiltIn } from './inbound.js';
import { CONTROL_CHANNEL, type OutgoingHook } from './loop.js';
import { resolveOptions, type HubOptions, type ResolvedHubOptions } from './options.js';
import type { RequestInfo } from './policy.js';
import { isPresenceChannel, Presence } from './presence.js';
import { Publisher, type PublishTracer } from './publisher.js';
import { makeToolkit } from './toolkit.js';
import { createReporter, type Reporter } from './report.js';
import { Router } from './router.js';
import { Session } from './session.js';

/**
 * The hub: its loop (see loop.ts), the server-side API (publish, users, presence, close) and the
 * transports it serves. This file is the composition root: the loop, sessions and the router never
 * import a transport; transports reach the hub through `SessionOpener` (see transport.ts).
 */
export class Hub extends HubApi {
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
  protected readonly publisher: Publisher;
  private nextId = 0;
  private drained: Promise<void> | null = null;
  private engineIsUp = true;

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
      log: (level, cause, context, message) => {
        this.engineState(context.code, message);
        reporter.report(level, context.code, message, context.err, cause);
      },
    })).then(() => {
      if (this.events.listening['node.started']) this.events.emit('node.started', { node: this.node });
      return Promise.all([this.engine.subscribe(CONTROL_CHANNEL), this.engine.subscribe(`#node:${this.node}`)]);
    }).catch((error: Error) =>
      reporter.report('error', 'engine_start_failed', `livehub: the engine did not start: ${error.message}; cross-node commands (disconnectUser) will not arrive until it does`, error));
    this.presence = new Presence(this.engine, {
      options: this.options,
      reporter: this.reporter,
      // Joins and leaves are announced even while the hub closes, so other nodes see users go.
      publish: (channel, type, data) => this.publisher.publishJson(channel, type, JSON.stringify(data ?? null), {}, true),
      reply: (session, reply) => this.reply(session, reply),
      presenceChanged: (channel, userId, joined) => this.presenceChanged(channel, userId, joined),
    }, () => this.sessions);
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
    if (!isValidType(type) || isBuiltIn(type)) {
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
      if (!isValidType(type)) throw new TypeError(`livehub: cannot use middleware for ${JSON.stringify(type)}: use 1-255 characters of ${NAME_CHARACTERS}, or '*'`);
      table.byType.set(type, [...(table.byType.get(type) ?? []), fn]);
    }
    return this;
  }

  /**
   * The HTTP API for other services (publish, broadcast, history, presence, channels, info,
   * disconnect, batch), behind an API key: `app.use('/api', hub.api({ key }))`. See docs/http-api.md.
   */
  api(options: HttpApiOptions): HttpApiHandler {
    return createHttpApi(this, options);
  }

  /**
   * A hook on every message each connection is about to get (Phoenix's `handle_out`): return it, a
   * reshaped copy, or null to drop it for that connection. It runs in the loop, once per message
   * and connection, so keep it quick; without one, the fan-out shares one encoding per channel.
   */
  outgoing(hook: OutgoingHook | null): this {
    if (hook !== null && typeof hook !== 'function') throw new TypeError('livehub: the outgoing hook must be a function or null');
    this.outgoingHook = hook;
    return this;
  }

  /** Listens to every hub event, `(name, event) => …` (seed 001's onEvent); returns the function that stops. */
  onEvent(listener: (name: HubEventName, event: HubEventMap[HubEventName]) => void): () => void {
    return this.events.onEvent(listener);
  }

  /**
   * Traces publishes: `tracer(channel, type)` starts a span and gives its traceparent, which travels
   * in the publication (across Redis too) so every node's delivery can link to it. livehub/observe's
   * `traceHub` sets it; null stops.
   */
  tracePublishes(tracer: PublishTracer | null): void {
    if (tracer !== null && typeof tracer !== 'function') throw new TypeError('livehub: the publish tracer must be a function or null');
    this.publisher.tracer = tracer;
  }

  /** Listens to a hub event (see events.ts); returns the function that stops listening. */
  on<K extends HubEventName>(name: K, listener: HubEventListener<K>): () => void {
    return this.events.on(name, listener);
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
   * Stops accepting connections, runs what is queued, then closes every client with 1001 once its
   * queued frames are written (or `writeWait` has passed). Resolves when every connection is closed.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    clearInterval(this.sweepTimer);
    this.presence.close();
    this.turn();
    this.writes.flush();
    const closed = [...this.sessions].map((session) => session.shutdown(CloseCode.GoingAway, 'server shutting down'));
    this.closing = Promise.all(closed).then(async () => {
      this.webSocket.close();
      for (const [server, path] of this.requestPaths) detachRequests(server, path);
      if (this.ownsEngine) await this.engine.close();
    });
    return this.closing;
  }

  /**
   * Drains this node for a rolling restart: refuses new connections (503 with `Retry-After`, so a
   * load balancer and the clients go to another node), then closes every connection with 1012
   * (service restart) spread at random over `spread` ms, each once its queued messages are written,
   * so clients reconnect elsewhere without a thundering herd and recover what they missed from
   * history. Resolves when every connection is closed; `hub.close()` then finishes the shutdown.
   */
  drain(options: { spread?: number } = {}): Promise<void> {
    checkKnownOptions(options, ['spread'], 'hub.drain()');
    const { spread = 5000 } = options;
    if (!Number.isFinite(spread) || spread < 0) throw new TypeError('livehub: drain spread must be a number of milliseconds >= 0');
    if (this.drained) return this.drained;
    if (this.events.listening['node.draining']) this.events.emit('node.draining', { connections: this.sessions.size });
    this.reporter.report('info', 'draining', `livehub: draining node ${this.node}: ${this.sessions.size} connections move to other nodes over ${spread} ms`);
    const closes = [...this.sessions].map((session) => new Promise<void>((resolve) => {
      setTimeout(() => session.shutdown(CloseCode.ServiceRestart, 'node draining; reconnect').then(resolve), Math.random() * spread).unref();
    }));
    this.drained = Promise.all(closes).then(() => {});
    return this.drained;
  }

  /** True once `drain()` or `close()` was called: readiness checks answer "not ready". */
  get draining(): boolean {
    return this.drained !== null || this.closing !== null;
  }

  /** Whether the engine reaches its store (false after it reported a lost connection, until it recovers). */
  get engineUp(): boolean {
    return this.engineIsUp;
  }

  /** Follows the engine's reports: losses and recoveries become `engine.down` / `engine.up` events. */
  private engineState(code: string, message: string): void {
    const down = code === 'engine_unreachable' || code === 'engine_disconnected' || code === 'engine_timeout';
    const up = code === 'engine_ready';
    if (down && this.engineIsUp) {
      this.engineIsUp = false;
      if (this.events.listening['engine.down']) this.events.emit('engine.down', { code, message });
    } else if (up && !this.engineIsUp) {
      this.engineIsUp = true;
      if (this.events.listening['engine.up']) this.events.emit('engine.up', {});
    }
  }

  // SessionOpener and SseHost: called by transports.

  get isClosing(): boolean {
    return this.draining;
  }

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
        this.enqueue({ kind: 'subscribe', session, channel: command.channel, id: command.id, since: command.since, ...(command.filter ? { filter: command.filter } : {}) });
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
    return makeToolkit(session, {
      enqueue: (command) => this.enqueue(command),
      publisher: this.publisher,
      reply: (to, reply) => this.reply(to, reply),
      sendToUser: (userId, type, data) => this.sendToUser(userId, type, data),
      publish: (channel, type, data) => this.publish(channel, type, data),
    });
  }

  received(session: Session, text: string): void {
    if (!this.events.listening['message.received']) return;
    const type = /^\s*\{\s*"type"\s*:\s*"([^"]{1,64})"/.exec(text)?.[1] ?? 'unknown';
    this.events.emit('message.received', { session: sessionInfo(session), type });
  }

  pushedBack(session: Session): void {
    if (this.events.listening.backpressure) this.events.emit('backpressure', { session: sessionInfo(session), bufferedBytes: session.bufferedBytes });
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
