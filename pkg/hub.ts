import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Identity } from './core/auth.js';
import type { HubInfo } from './core/api.js';
import type { HistoryOptions } from './core/transport.js';
import { HubCore } from './core/core.js';
import { deprecated } from './core/deprecated.js';
import type { HubEventListener, HubEventMap, HubEventName } from './core/events.js';
import type { Handler, Middleware } from './core/handlers.js';
import type { OutgoingHook } from './core/loop.js';
import { resolveOptions, type HubOptions, type PublishRequest } from './core/options.js';
import type { HubPublishOptions, PublishTracer } from './core/publisher.js';
import type { TransportEndpoint } from './core/transport.js';
import type { PublishResult, StreamPosition } from './engine/engine.js';
import { MemoryEngine } from './engine/memory.js';
import type { UnreadState } from './core/user-streams.js';
import { checkKnownOptions } from './options-check.js';
import type { HubMessage, PresenceMember } from './protocol/index.js';
import { attachRequests, detachRequests } from './transport/attach.js';
import { createHttpApi, type HttpApiHandler, type HttpApiOptions } from './transport/http/api.js';
import { EventSourceEndpoint } from './transport/sse/endpoint.js';
import { WebSocketEndpoint } from './transport/websocket/server.js';

export type { HubInfo, PublishRequest, UnreadState };

/** @deprecated Use `HubInfo` (`hub.info()`). */
export interface HubStats {
  clients: number;
  channels: number;
}

/** `hub.drain()`'s options. */
export interface DrainOptions {
  /**
   * The connections are closed at random moments within this many ms, so their clients do not
   * reconnect to the other nodes all at once.
   * @default 5000; 0 on the memory engine (the node is the only one: nowhere to move clients to)
   */
  spread?: number;
}

const cores = new WeakMap<Hub, HubCore>();

/** The core behind a hub, for livehub's own packages (observe, webhooks); not part of the public API. */
export function coreOf(hub: Hub): HubCore {
  const core = cores.get(hub);
  if (!core) throw new TypeError('livehub: not a Hub');
  return core;
}

/**
 * The hub: channels, their history and presence, and the transports that carry them (WebSocket, SSE,
 * the HTTP API, and any an app adds with `addTransport`). This file is the composition root: it
 * builds the core (pkg/core/, which imports no transport), the default engine, and the built-in
 * transports, which reach the core through the public transport API like any other.
 */
export class Hub {
  readonly #core: HubCore;
  readonly #webSocket = new WebSocketEndpoint();
  readonly #eventSource = new EventSourceEndpoint();
  /** Servers whose plain requests to a path this hub serves (attach's `eventsPath`). */
  readonly #requestPaths = new Map<Server, string>();
  /** On the memory engine: no other node shares its channels, so none can take its clients. */
  readonly #alone: boolean;

  constructor(options: HubOptions = {}) {
    const resolved = resolveOptions(options);
    const engine = resolved.engine ?? new MemoryEngine();
    this.#alone = engine instanceof MemoryEngine;
    const core = new HubCore(resolved, engine, !resolved.engine);
    this.#core = core;
    cores.set(this, core);
    core.addTransport(this.#webSocket);
    core.addTransport(this.#eventSource);
  }

  /**
   * Publishes `{channel, type, data}` to the channel's subscribers (`"*"`: to every client). Safe from
   * any handler at any time; never blocks: the message is serialized now and fanned out on the turn
   * after the engine gave it its stream position.
   *
   * Resolves with that position once the message has it (so a handler that awaits it before answering
   * orders sequential requests, across nodes too). Rejects with an Error whose `code` is
   * `unavailable` (the engine could not be reached: nothing was published), `outcome_unknown` (the
   * publish was sent and no answer came: it may have been published; retry with the same
   * `idempotencyKey`, which never publishes twice) or `closed` (the hub is closing). Awaiting is
   * optional: a failure is logged either way, and a promise nobody awaits never becomes an unhandled
   * rejection. Throws a TypeError at once for an invalid channel or type, or data that JSON cannot
   * encode (BigInt, a cycle).
   */
  publish(channel: string, type: string, data?: unknown, options?: HubPublishOptions): Promise<PublishResult> {
    return this.#core.publish(channel, type, data, options);
  }

  /** @deprecated Use `publish(message.channel, message.type, message.data)`; `broadcast` names the HTTP API's publish to several channels. */
  broadcast(message: HubMessage): Promise<PublishResult> {
    this.#deprecated('hub.broadcast(message)', 'hub.publish(channel, type, data)');
    if (message === null || typeof message !== 'object') throw new TypeError('livehub: message must be an object');
    return this.publish(message.channel, message.type, message.data);
  }

  /** Publishes to the user's personal channel `user:<id>`, which each of their connections is in. */
  sendToUser(userId: string, type: string, data?: unknown): Promise<PublishResult> {
    return this.#core.sendToUser(userId, type, data);
  }

  /** `sendToUser` for several users; resolves once every publish has. */
  sendToUsers(userIds: Iterable<string>, type: string, data?: unknown): Promise<PublishResult[]> {
    return this.#core.sendToUsers(userIds, type, data);
  }

  /**
   * Where the user's stream (`user:<id>`, what `sendToUser` writes) stands: its head, the offset the
   * user acknowledged (on any device) and the unread count, the head minus it. Rejects with code
   * `unsupported` when the engine keeps no acknowledgements, `unavailable` when it cannot be reached.
   */
  unread(userId: string): Promise<UnreadState> {
    return this.#core.userStreams.state(userId);
  }

  /**
   * Acknowledges the user's stream up to `position` (default: its head) for the user, as a client's
   * `acknowledge` does; every connection of the user, on every node, gets the new unread count. It
   * never moves back. Rejects with code `beyond_head` or `stale_epoch` for a position past the head
   * or of another epoch, `unsupported` or `unavailable` as `unread`.
   */
  acknowledge(userId: string, position?: StreamPosition): Promise<UnreadState> {
    return this.#core.userStreams.acknowledgeFor(userId, position);
  }

  /** The channel's current stream position (for pages that resume from it, see livehub/inertia). */
  position(channel: string): Promise<StreamPosition> {
    return this.#core.position(channel);
  }

  /**
   * The channel's last `limit` publications still in history (at most the channel's history size),
   * oldest first, with its current position. `complete` is false when history no longer holds all
   * of them (expired by `ttl`): then none are returned, never a partial range. With `since` (a
   * position a reader stands at), the first `limit` publications after it instead; `complete` is
   * false, and none are returned, when history no longer holds all of those.
   */
  history(channel: string, options?: HistoryOptions): Promise<{ position: StreamPosition; messages: HubMessage[]; complete: boolean }> {
    return this.#core.history(channel, options);
  }

  /** The members of a presence channel, across every node sharing the engine. */
  presenceOf(channel: string): Promise<PresenceMember[]> {
    return this.#core.presenceOf(channel);
  }

  /** Whether the user has a live connection to any node sharing the engine. */
  isUserConnected(userId: string): Promise<boolean> {
    return this.#core.isUserConnected(userId);
  }

  /** Ids of the user's live connections, on every node sharing the engine. */
  connectedClients(userId: string): Promise<string[]> {
    return this.#core.connectedClients(userId);
  }

  /**
   * Closes every connection of a user with 4503 (terminal: the client does not reconnect), on every
   * node sharing the engine. Resolves once the command is out; rejects (code `unavailable`) if the
   * engine could not take it.
   */
  disconnectUser(userId: string, reason?: string): Promise<void> {
    return this.#core.disconnectUser(userId, reason);
  }

  /** This node's channels with local subscribers, and how many each. */
  channelList(): Array<{ channel: string; subscribers: number }> {
    return this.#core.channelList();
  }

  /** This node: its id, connections (in all and by transport), channels, users, uptime and transport totals. */
  info(): HubInfo {
    return this.#core.info();
  }

  /** @deprecated Use `info()` (`clients` and `channels` are there). */
  stats(): HubStats {
    this.#deprecated('hub.stats()', 'hub.info()');
    const { clients, channels } = this.#core.info();
    return { clients, channels };
  }

  /** @deprecated Use `info()` (the transport totals are there). */
  metrics(): { writes: number; frames: number; bytes: number; evictions: number; clients: number; channels: number } {
    this.#deprecated('hub.metrics()', 'hub.info()');
    const { writes, frames, bytes, evictions, clients, channels } = this.#core.info();
    return { writes, frames, bytes, evictions, clients, channels };
  }

  /** This node's id: the first part of its connection ids. */
  get node(): string {
    return this.#core.node;
  }

  /** The WebSocket frame codec in use (`'js'` or `'wasm'`). */
  get codecName(): 'js' | 'wasm' {
    return this.#webSocket.codec.name;
  }

  /** True once `drain()` or `close()` was called: readiness checks answer "not ready". */
  get draining(): boolean {
    return this.#core.draining;
  }

  /** Whether the engine reaches its store (false after it reported a lost connection, until it recovers). */
  get engineUp(): boolean {
    return this.#core.engineUp;
  }

  /**
   * Answers the application's own message type from any transport: `{"type": type, "data": …, "id": …}`.
   * The handler's return value (or `kit.reply`) answers the id with `{"type":"reply","id":…,"data":…}`;
   * `kit.fail(code)` or an error with a `code` answers with that error; any other error answers
   * `internal` and is logged with its stack. See handlers.ts for the context and the toolkit.
   */
  handle(type: string, handler: Handler): this {
    this.#core.router.addHandler(type, handler);
    return this;
  }

  /**
   * Middleware, Koa-style (`await next()` continues): `hub.use(mw)` for every message, built-in or
   * not, and `hub.use(type, mw)` (or `'*'`) for one type. It runs before handlers and before the
   * built-in commands' channel policy; throwing an error with a `code` answers with that code.
   */
  use(typeOrMiddleware: string | Middleware, middleware?: Middleware): this {
    if (typeof typeOrMiddleware === 'string') this.#core.router.addMiddleware(typeOrMiddleware, middleware);
    else this.#core.router.addMiddleware('*', typeOrMiddleware);
    return this;
  }

  /**
   * A hook on every message each connection is about to get: return it, a reshaped copy, or null to
   * drop it for that connection. It runs in the loop, once per message and connection, so keep it
   * quick; without one, the fan-out shares one encoding per channel.
   */
  outgoing(hook: OutgoingHook | null): this {
    if (hook !== null && typeof hook !== 'function') throw new TypeError('livehub: the outgoing hook must be a function or null');
    this.#core.outgoingHook = hook;
    return this;
  }

  /** Listens to a hub event (see events.ts); returns the function that stops listening. */
  on<K extends HubEventName>(name: K, listener: HubEventListener<K>): () => void {
    return this.#core.events.on(name, listener);
  }

  /** Listens to every hub event, `(name, event) => …`; returns the function that stops. */
  onEvent(listener: (name: HubEventName, event: HubEventMap[HubEventName]) => void): () => void {
    return this.#core.events.onEvent(listener);
  }

  /**
   * Traces publishes: `tracer(channel, type)` starts a span and gives its traceparent, which travels
   * in the publication (across Redis too) so every node's delivery can link to it. livehub/observe's
   * `traceHub` sets it; null stops.
   */
  tracePublishes(tracer: PublishTracer | null): void {
    if (tracer !== null && typeof tracer !== 'function') throw new TypeError('livehub: the publish tracer must be a function or null');
    this.#core.publisher.tracer = tracer;
  }

  /**
   * The HTTP API for other services (publish, broadcast to several channels, history, presence,
   * channels, info, disconnect, batch), behind an API key: `app.use('/api', hub.api({ key }))`. See
   * docs/http-api.md.
   */
  api(options: HttpApiOptions): HttpApiHandler {
    return createHttpApi(this.#core, options);
  }

  /**
   * Adds a transport written on `livehub/transport`: the hub starts it now with the transport API
   * (admission, a session per connection, node messages) and stops it on `close()`. Its name must be
   * new to this hub (`websocket` and `sse` are taken).
   */
  addTransport(endpoint: TransportEndpoint): this {
    this.#core.addTransport(endpoint);
    return this;
  }

  /**
   * Express (or connect) handler: `app.get('/ws', hub.handleWebSocket)`. Middleware before it runs
   * before the upgrade. A non-upgrade request gets 426 Upgrade Required.
   */
  readonly handleWebSocket = (request: IncomingMessage, response: ServerResponse): void => {
    this.#webSocket.handleRequest(request, response);
  };

  /**
   * Server-Sent Events, for both methods: `app.all('/events', hub.handleEventSource)`. `GET` opens a
   * stream (`?channel=a&channel=b`), resumed from `Last-Event-ID`; `POST` with the stream's token
   * sends it a command. See docs/protocol.md, "Server-Sent Events".
   */
  readonly handleEventSource = (request: IncomingMessage, response: ServerResponse): void => {
    this.#eventSource.handleRequest(request, response);
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
    this.#webSocket.watch(server, path);
    if (eventsPath !== undefined) {
      attachRequests(server, eventsPath, this.handleEventSource);
      this.#requestPaths.set(server, eventsPath);
    }
    return this;
  }

  /**
   * Completes an upgrade from a raw `upgrade` event. Before the upgrade: 503 while closing or over
   * `maxConnections`, 403 for a refused origin, 400 for a malformed handshake, 429 over the per-IP or
   * per-user caps, and the authenticator's status (401 by default) for a refused credential.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#webSocket.handleUpgrade(request, socket, head);
  }

  /**
   * Adopts an open `ws` connection (for apps that run their own WebSocketServer). Connection caps and
   * authentication are then the app's; pass the identity it established, if any.
   */
  addConnection(ws: WebSocket, request: IncomingMessage, identity: Identity | null = null): void {
    this.#webSocket.adopt(ws, request, identity);
  }

  /**
   * Stops accepting connections, runs what is queued, then closes every client with 1001 once its
   * queued frames are written (or `writeWait` has passed). Resolves when every connection is closed.
   */
  close(): Promise<void> {
    const closed = this.#core.close();
    return closed.then(() => {
      for (const [server, path] of this.#requestPaths) detachRequests(server, path);
      this.#requestPaths.clear();
    });
  }

  /**
   * Drains this node for a rolling restart: refuses new connections (503 with `Retry-After`, so a
   * load balancer and the clients go to another node), then closes every connection with 1012
   * (service restart) spread at random over `spread` ms, each once its queued messages are written,
   * so clients reconnect elsewhere without a thundering herd and recover what they missed from
   * history. Resolves when every connection is closed; `hub.close()` then finishes the shutdown.
   * Close the server's listener first (`server.close()`): new connections are then refused by the
   * kernel instead of answered here while this node closes its own.
   *
   * On the memory engine this node is the only one: no other node can take its clients, and a
   * spread would only keep the first ones it closes away for longer (their reconnects are refused
   * until the next process listens). So its default is 0, every connection closed at once, and a
   * spread given there is kept but logged as a warning.
   */
  drain(options: DrainOptions = {}): Promise<void> {
    checkKnownOptions(options, ['spread'], 'hub.drain()');
    const alone = this.#alone;
    const { spread = alone ? 0 : 5000 } = options;
    if (typeof spread !== 'number' || !Number.isFinite(spread) || spread < 0) throw new TypeError(`livehub: drain spread must be a number of milliseconds >= 0, got ${String(spread)}`);
    return this.#core.drain(spread, alone);
  }

  /** Warns once per process that a deprecated name was used, naming the new one. */
  #deprecated(old: string, now: string): void {
    deprecated(this.#core.reporter, old, now);
  }
}
