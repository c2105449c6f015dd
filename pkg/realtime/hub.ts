import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  BROADCAST_CHANNEL, clampCloseReason, CloseCode, ErrorCode, isValidChannel, isValidEventType, NAME_CHARACTERS, SUBPROTOCOL, withId,
  type ClientCommand, type HubMessage, type RequestId, type ServerReply,
} from '../protocol.js';
import type { Engine, HistoryResult, Publication, PublishResult, StreamPosition } from '../engine/engine.js';
import { createReporter, LivehubError, type Reporter } from './report.js';
import { MemoryEngine } from '../engine/memory.js';
import { AuthError, type Identity } from './auth.js';
import { Client, type ClientHost, type HubCounters } from './client.js';
import { jsCodec, type FrameCodec } from './codec.js';
import { Admission } from './limits.js';
import { after } from './maybe.js';
import { requestInfo, userChannel } from './policy.js';
import { isPresenceChannel, Presence, userSet } from './presence.js';

/** The server's own channel between nodes (disconnecting a user everywhere). */
const CONTROL_CHANNEL = '#control';
/** Socket reads ws may buffer before parsing them; a flood of tiny TCP segments beyond closes (1008). */
const MAX_BUFFERED_CHUNKS = 1024;
import { historyPolicy, resolveOptions, type HubOptions, type ResolvedHubOptions } from './options.js';
import {
  adoptFromRequestPath, dispatcherFor, isUpgradeRequest, kUpgradeHead, originAllowed, rejectUpgrade,
  releaseDispatcher, serverOf, type UpgradeRequest,
} from './upgrade.js';
import { loadWasmCodec } from './wasm-codec.js';

/** Work for the loop. One FIFO keeps register, unregister, subscribe and broadcast in arrival order. */
type Command =
  | { kind: 'register'; client: Client }
  | { kind: 'unregister'; client: Client }
  | { kind: 'subscribe'; client: Client; channel: string; id?: RequestId; since?: StreamPosition }
  | { kind: 'unsubscribe'; client: Client; channel: string; id?: RequestId }
  | { kind: 'publication'; publication: Publication }
  | { kind: 'reset'; channel: string; position: StreamPosition }
  | { kind: 'recovered'; client: Client; channel: string; id?: RequestId; since?: StreamPosition; result: HistoryResult | null }
  | { kind: 'reply'; client: Client; reply: ServerReply }
  | { kind: 'close'; client: Client; code: number; reason: string };

/** Counts, for monitoring and tests. */
export interface HubStats {
  clients: number;
  channels: number;
}

/**
 * The hub: a small state machine that only its loop mutates, after gorilla/websocket's chat hub.
 * Everything that changes state (a connection registering or leaving, a subscription, a publish) is
 * queued; one loop turn, scheduled with `setImmediate`, drains the queue in order and then fans out
 * the turn's messages: each channel's messages are encoded once into one buffer that every subscriber
 * shares, and each client gets one corked socket write per turn.
 */
export class Hub implements ClientHost {
  readonly options: ResolvedHubOptions;
  readonly counters: HubCounters = { writes: 0, frames: 0, bytes: 0, evictions: 0 };
  private readonly clients = new Set<Client>();
  private readonly channels = new Map<string, Set<Client>>();
  /** Authenticated users' connections. */
  private readonly users = new Map<string, Set<Client>>();
  private readonly admission: Admission;
  private queue: Command[] = [];
  private scheduled = false;
  private closing: Promise<void> | null = null;
  private codec: FrameCodec = jsCodec;
  private readonly engine: Engine;
  private readonly ownsEngine: boolean;
  private readonly presence: Presence;
  /** Engine subscriptions still being set up, per channel: a subscribe's history read waits for it. */
  private readonly subscribing = new Map<string, Promise<unknown>>();
  private readonly wss: WebSocketServer;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly idPrefix = Math.random().toString(36).slice(2, 8);
  private nextId = 0;
  /** Servers this hub listens on, with the paths it attached and whether it routes via the app. */
  private readonly servers = new Map<Server, { paths: Set<string>; viaApp: boolean }>();
  readonly reporter: Reporter;

  constructor(options: HubOptions = {}) {
    this.options = resolveOptions(options);
    this.reporter = createReporter(this.options);
    const { codec } = this.options;
    if (codec === 'wasm') this.codec = loadWasmCodec();
    else if (typeof codec === 'object') this.codec = codec;
    this.admission = new Admission(this.options);
    this.ownsEngine = !this.options.engine;
    this.engine = this.options.engine ?? new MemoryEngine();
    const { reporter } = this;
    void Promise.resolve(this.engine.start({
      deliver: (publication) => this.enqueue({ kind: 'publication', publication }),
      reset: (channel, position) => this.enqueue({ kind: 'reset', channel, position }),
      log: (level, cause, context, message) => reporter.report(level, context.code, message, context.err, cause),
    })).then(() => this.engine.subscribe(CONTROL_CHANNEL)).catch((error: Error) =>
      reporter.report('error', 'engine_start_failed', `livehub: the engine did not start: ${error.message}; cross-node commands (disconnectUser) will not arrive until it does`, error));
    this.presence = new Presence(this.engine, this, () => this.clients);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.options.maxMessageSize,
      maxFragments: this.options.maxFragments,
      maxBufferedChunks: MAX_BUFFERED_CHUNKS,
      perMessageDeflate: this.options.perMessageDeflate,
      clientTracking: false,
      // livehub's own clients ask for the full protocol; others get the Go original's.
      handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    } as ConstructorParameters<typeof WebSocketServer>[0]);
    const { pingPeriod, pongWait } = this.options;
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(10, Math.min(pingPeriod, pongWait - pingPeriod)));
    this.sweepTimer.unref();
  }

  /** The frame codec in use (`'js'` or `'wasm'`). */
  get codecName(): FrameCodec['name'] {
    return this.codec.name;
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
  publish(channel: string, type: string, data?: unknown): Promise<PublishResult> {
    checkChannel(channel);
    if (!isValidEventType(type)) throw new TypeError(`livehub: invalid message type ${JSON.stringify(type)}: use 1-255 characters of ${NAME_CHARACTERS}`);
    return this.publishJson(channel, type, encodeData(data));
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

  private publishJson(channel: string, type: string, dataJson: string): Promise<PublishResult> {
    let published: Promise<PublishResult>;
    if (this.closing) {
      published = Promise.reject(new LivehubError('closed', `livehub: publish to ${channel} after hub.close(); nothing was published`));
    } else {
      try {
        published = Promise.resolve(this.engine.publish(channel, type, dataJson, historyPolicy(this.options, channel)));
      } catch (error) {
        published = Promise.reject(error);
      }
    }
    const result = published.catch((error: unknown) => {
      throw this.publishFailed(channel, error);
    });
    result.catch(() => {}); // awaiting is optional; the failure is logged in publishFailed
    return result;
  }

  /** Logs a failed publish and gives the Error its caller gets (code `unavailable` or `closed`). */
  private publishFailed(channel: string, error: unknown): LivehubError {
    const cause = error instanceof Error ? error.message : String(error);
    const code = error instanceof LivehubError && error.code === 'closed' ? 'closed' : ErrorCode.Unavailable;
    const failure = error instanceof LivehubError && error.code === code
      ? error
      : new LivehubError(code, `livehub: publish to ${channel} failed: ${cause}`, { cause: error });
    this.reporter.report('error', 'publish_failed', `${failure.message}; the message was not published (check the engine: its connection, REDIS_URL)`, failure, `publish_failed:${cause}`);
    return failure;
  }

  /**
   * Express (or connect) handler: `app.get('/ws', hub.handleWebSocket)`. Middleware before it runs
   * before the upgrade. A non-upgrade request gets 426 Upgrade Required.
   */
  readonly handleWebSocket = (request: IncomingMessage, response: ServerResponse): void => {
    const upgrade = request as UpgradeRequest;
    const head = upgrade[kUpgradeHead];
    if (head) {
      delete upgrade[kUpgradeHead];
      response.detachSocket(request.socket);
      this.handleUpgrade(request, request.socket, head);
      return;
    }
    if (!isUpgradeRequest(request)) {
      response.writeHead(426, { Upgrade: 'websocket', 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('Upgrade Required: this endpoint speaks WebSocket\n');
      return;
    }
    // The server had no upgrade listener yet, so Node sent the upgrade down the request path.
    const server = serverOf(request);
    if (server) this.watch(server, undefined);
    if (adoptFromRequestPath(request, response)) {
      this.handleUpgrade(request, request.socket, Buffer.alloc(0));
    } else {
      response.writeHead(503, { 'Retry-After': '1', 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('Service Unavailable: call hub.attach(server) at startup\n');
    }
  };

  /**
   * Attaches to a plain `http.Server`. With `path`, upgrades to that path go to this hub. Without
   * one, upgrades are routed through the server's request handler, for `app.get(path,
   * hub.handleWebSocket)` on Express; calling this at startup is optional but saves the first
   * connection a detour.
   */
  attach(server: Server, options: { path?: string } = {}): this {
    const { path } = options;
    if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/'))) {
      throw new TypeError('livehub: attach path must be a string starting with "/"');
    }
    this.watch(server, path);
    return this;
  }

  /**
   * Completes an upgrade from a raw `upgrade` event. Before the upgrade: 503 while closing or over
   * `maxConnections`, 403 for a refused origin, 400 for a malformed handshake, 429 over the per-IP or
   * per-user caps, and the authenticator's status (401 by default) for a refused credential.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closing) return rejectUpgrade(socket, 503, { 'Retry-After': '1' });
    if (!originAllowed(this.options, request, this.reporter)) return this.refuseOrigin(request, socket);
    if (!isWellFormedHandshake(request)) return rejectUpgrade(socket, 400);
    const ip = this.clientIp(request);
    const refusal = this.admission.refuseIp(ip);
    if (refusal) return rejectUpgrade(socket, refusal, { 'Retry-After': '5' });
    // The slot is held from here until the socket closes, whatever happens in between.
    this.admission.admit(socket, ip);
    const { authenticate } = this.options;
    if (!authenticate) return this.upgrade(request, socket, head, null);
    let pending: Identity | null | Promise<Identity | null>;
    try {
      pending = authenticate(request);
    } catch (error) {
      return this.refuse(socket, error);
    }
    Promise.resolve(pending).then((identity) => {
      if (socket.destroyed) return;
      if (identity !== null && (typeof identity !== 'object' || typeof identity.userId !== 'string' || !identity.userId)) {
        this.reporter.error(new TypeError('livehub: authenticate must return an Identity with a userId, or null'), 'bad_identity');
        return rejectUpgrade(socket, 500);
      }
      if (identity) {
        const refused = this.admission.refuseUser(identity.userId);
        if (refused) return rejectUpgrade(socket, refused);
        this.admission.admitUser(socket, identity.userId);
      }
      this.upgrade(request, socket, head, identity);
    }, (error) => this.refuse(socket, error));
  }

  /**
   * Adopts an open `ws` connection (for apps that run their own WebSocketServer). Connection caps and
   * authentication are then the app's; pass the identity it established, if any.
   */
  addConnection(ws: WebSocket, request: IncomingMessage, identity: Identity | null = null): void {
    const client = new Client(`${this.idPrefix}-${++this.nextId}`, ws, requestInfo(request), this, identity, ws.protocol === SUBPROTOCOL);
    this.enqueue({ kind: 'register', client });
  }

  /**
   * Closes every connection of a user with 4503 (terminal: the client does not reconnect), on every
   * node sharing the engine.
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
    const dataJson = encodeData(data);
    const sent = Promise.all([...userIds].map((userId) => {
      const channel = userChannel(userId);
      checkChannel(channel);
      return this.publishJson(channel, type, dataJson);
    }));
    sent.catch(() => {});
    return sent;
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, identity: Identity | null): void {
    if (this.closing) return rejectUpgrade(socket, 503, { 'Retry-After': '1' });
    this.wss.handleUpgrade(request, socket, head, (ws) => this.addConnection(ws, request, identity));
  }

  /** The address a connection counts under for `maxConnectionsPerIp` (see the `clientIp` option). */
  private clientIp(request: IncomingMessage): string {
    const own = request.socket.remoteAddress ?? 'unknown';
    const { clientIp } = this.options;
    if (!clientIp) return own;
    try {
      const ip = clientIp(request);
      if (typeof ip === 'string' && ip) return ip;
      this.reporter.error(new TypeError('livehub: clientIp must return a non-empty string'), 'bad_client_ip');
    } catch (error) {
      this.reporter.error(error, 'client_ip_failed');
    }
    return own;
  }

  /** Answers a refused credential; never says why, and never echoes the token. */
  private refuse(socket: Duplex, error: unknown): void {
    if (error instanceof AuthError) return rejectUpgrade(socket, error.status);
    this.reporter.error(error, 'authenticate_failed', `livehub: authenticate threw (${error instanceof Error ? error.message : String(error)}); the connection was refused with 401`);
    rejectUpgrade(socket, 401);
  }

  /** A refused origin: 403, and a warning naming the origin and the option that would allow it. */
  private refuseOrigin(request: IncomingMessage, socket: Duplex): void {
    const origin = String(request.headers.origin);
    this.reporter.report('warn', 'origin_refused',
      `livehub: refused a WebSocket from origin ${origin} (host ${request.headers.host ?? 'none'}) with 403; ` +
      `if that page is yours, allow it: new Hub({ origins: [${JSON.stringify(origin)}] })`, undefined, `origin_refused:${origin}`);
    rejectUpgrade(socket, 403);
  }

  /** Counts of connected clients and non-empty channels. */
  stats(): HubStats {
    return { clients: this.clients.size, channels: this.channels.size };
  }

  /** Running totals since the hub started: socket writes, frames, bytes, slow-consumer evictions. */
  metrics(): HubCounters & HubStats {
    return { ...this.counters, ...this.stats() };
  }

  /**
   * Stops accepting connections, runs what is queued, then closes every client with 1001 once its
   * queued frames are written (or `writeWait` has passed). Resolves when every socket is closed.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    clearInterval(this.sweepTimer);
    this.presence.close();
    if (this.queue.length > 0) this.turn();
    const closed = [...this.clients].map((client) => client.shutdown(CloseCode.GoingAway, 'server shutting down'));
    this.closing = Promise.all(closed).then(async () => {
      for (const [server, mine] of this.servers) releaseDispatcher(server, mine.paths, mine.viaApp);
      this.wss.close();
      if (this.ownsEngine) await this.engine.close();
    });
    return this.closing;
  }

  // ClientHost: called by clients; each only queues.
  command(client: Client, command: ClientCommand): void {
    switch (command.type) {
      case 'subscribe':
        this.enqueue({ kind: 'subscribe', client, channel: command.channel, id: command.id, since: command.since });
        break;
      case 'unsubscribe':
        this.enqueue({ kind: 'unsubscribe', client, channel: command.channel, id: command.id });
        break;
      case 'publish':
        this.publishFrom(client, command);
        break;
      case 'ping':
        this.reply(client, withId({ type: 'pong' }, command.id));
        break;
      case 'presence':
      case 'status': {
        const { channel, id } = command;
        if (!isPresenceChannel(channel) || !client.presence?.has(channel)) {
          this.reply(client, withId({ type: 'error', code: ErrorCode.Forbidden, channel, message: 'subscribe to this presence channel first' }, id));
          break;
        }
        if (command.type === 'presence') this.presence.list(client, channel, id);
        else this.presence.status(client, channel, command.status, id);
        break;
      }
    }
  }

  reply(client: Client, reply: ServerReply): void {
    this.enqueue({ kind: 'reply', client, reply });
  }

  /**
   * A client's publish, stamped with who sent it (`from`). One with a string id is idempotent (per
   * user, within `publishDedupeWindow`, across reconnects and nodes): the engine claims the id in the
   * same atomic step as the publish, so a retry of a publish already made is acked again with the
   * same position and not fanned out twice, and a publish that failed leaves the id free to retry.
   */
  private publishFrom(client: Client, command: Extract<ClientCommand, { type: 'publish' }>): void {
    const { channel, event, id } = command;
    let dataJson: string;
    try {
      dataJson = JSON.stringify(command.data ?? null);
    } catch {
      return this.reply(client, withId({ type: 'error', code: ErrorCode.BadData, channel, message: 'data cannot be encoded as JSON' }, id));
    }
    const userId = client.identity?.userId;
    const from = userId === undefined ? { client: client.id } : { user: userId, client: client.id };
    const idempotency = typeof id === 'string'
      ? { idempotencyKey: `publish:${userId ?? ''}:${id}`, idempotencyTtl: this.options.publishDedupeWindow }
      : {};
    after(() => this.engine.publish(channel, event, dataJson, historyPolicy(this.options, channel), { from, ...idempotency }),
      (position) => { if (id !== undefined) this.reply(client, { type: 'ack', id, offset: position.offset, epoch: position.epoch }); },
      (error: Error) => {
        this.publishFailed(channel, error);
        this.reply(client, withId({ type: 'error', code: ErrorCode.Unavailable, channel, message: `publish to ${channel} failed; retry later` }, id));
      });
  }

  unregister(client: Client): void {
    this.enqueue({ kind: 'unregister', client });
  }

  closeClient(client: Client, code: number, reason: string): void {
    this.enqueue({ kind: 'close', client, code, reason });
  }

  /** Routes `path` (or, without one, upgrades through the app) on `server` to this hub. */
  private watch(server: Server, path: string | undefined): void {
    const dispatcher = dispatcherFor(server);
    let mine = this.servers.get(server);
    if (!mine) this.servers.set(server, (mine = { paths: new Set(), viaApp: false }));
    if (path === undefined) {
      dispatcher.viaApp = mine.viaApp = true;
    } else {
      dispatcher.paths.set(path, (req, socket, head) => this.handleUpgrade(req, socket, head));
      mine.paths.add(path);
    }
  }

  private enqueue(command: Command): void {
    this.queue.push(command);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.turn);
    }
  }

  /** One loop turn: apply every queued command in order, then fan out and flush. */
  private readonly turn = (): void => {
    this.scheduled = false;
    const commands = this.queue;
    this.queue = [];
    const batches = new Map<string, { offsets: number[]; payloads: string[] }>();
    const dirty: Client[] = [];
    const send = (client: Client, reply: ServerReply) => {
      if (client.state !== 'open') return;
      if (!client.fullProtocol && !('id' in reply && reply.id !== undefined) && 'channel' in reply) {
        // The Go original's clients take every frame with a channel for a message: send them only
        // messages, and errors without the channel key (named in the text instead).
        if (reply.type !== 'error') return;
        const { channel, ...rest } = reply;
        reply = { ...rest, message: `${reply.message} (channel ${channel})` };
      }
      client.enqueue(this.codec.encodeBatch([JSON.stringify(reply)]), 1);
      if (!client.dirty) { client.dirty = true; dirty.push(client); }
    };
    for (const command of commands) {
      switch (command.kind) {
        case 'register':
          if (this.closing) command.client.close(CloseCode.GoingAway, 'server shutting down');
          else if (command.client.state === 'open') this.add(command.client);
          break;
        case 'close':
          command.client.close(command.code, command.reason, true);
          break;
        case 'unregister':
          this.remove(command.client);
          break;
        case 'subscribe': {
          const { client, channel } = command;
          if (!this.clients.has(client)) break;
          if (client.channels.has(channel)) {
            send(client, withId({ type: 'error', code: ErrorCode.AlreadySubscribed, channel, message: `already subscribed to ${channel}; the subscription stands` }, command.id));
            break;
          }
          const full = client.channels.size >= this.options.maxChannelsPerClient;
          if (channel !== BROADCAST_CHANNEL && !client.channels.has(channel) && full) {
            send(client, withId({
              type: 'error', code: ErrorCode.TooManyChannels, channel,
              message: `at most ${this.options.maxChannelsPerClient} channels per connection`,
            }, command.id));
            break;
          }
          if (channel === BROADCAST_CHANNEL) {
            send(client, withId({ type: 'subscribed', channel }, command.id));
            break;
          }
          this.join(client, channel);
          // Hold live publications for this client until the engine says where the stream stands.
          client.streams.hold(channel);
          const { since, id } = command;
          // Read the position only once this node receives the channel's publications: anything
          // published after the read then reaches the client live, and nothing falls in between.
          const ready = this.subscribing.get(channel);
          after(() => (ready ? ready.then(() => this.engine.history(channel, since ?? null)) : this.engine.history(channel, since ?? null)),
            (result) => this.enqueue({ kind: 'recovered', client, channel, id, since, result }),
            (error) => {
              this.reporter.report('error', 'subscribe_failed', `livehub: subscribe to ${channel} failed reading its stream position: ${error.message}; the client was answered 'unavailable' and retries`, error, `subscribe_failed:${error.message}`);
              this.enqueue({ kind: 'recovered', client, channel, id, since, result: null });
            });
          break;
        }
        case 'recovered':
          this.answerSubscribe(command, send);
          break;
        case 'reset': {
          // The stream broke (history lost, or a gap no longer in history): every local subscriber's
          // position is void. Tell them where it stands now; the livehub client emits `gap`.
          const { channel, position } = command;
          for (const client of this.channels.get(channel) ?? []) {
            if (client.streams.recovering?.has(channel)) continue; // its subscribe answer comes from the new stream
            client.streams.forget(channel);
            client.streams.setFloor(channel, position.offset);
            send(client, { type: 'reset', channel, offset: position.offset, epoch: position.epoch });
          }
          break;
        }
        case 'unsubscribe':
          if (!this.clients.has(command.client)) break;
          this.leave(command.client, command.channel);
          send(command.client, withId({ type: 'unsubscribed', channel: command.channel }, command.id));
          break;
        case 'publication': {
          const { channel, offset, payload } = command.publication;
          if (channel === CONTROL_CHANNEL) {
            this.control(payload);
            break;
          }
          const batch = batches.get(channel);
          if (batch) {
            batch.offsets.push(offset);
            batch.payloads.push(payload);
          } else batches.set(channel, { offsets: [offset], payloads: [payload] });
          break;
        }
        case 'reply':
          send(command.client, command.reply);
          break;
      }
    }
    for (const [channel, { offsets, payloads }] of batches) {
      const targets = channel === BROADCAST_CHANNEL ? this.clients : this.channels.get(channel);
      if (!targets || targets.size === 0) continue;
      let frames: Buffer | null = null;
      for (const client of targets) {
        const streams = client.streams;
        if (streams.recovering !== null || streams.floors !== null) {
          const route = streams.route(channel, offsets, payloads);
          if (route === 'none') continue;
          if (route !== 'all') {
            client.enqueue(this.codec.encodeBatch(route), route.length);
            if (!client.dirty) { client.dirty = true; dirty.push(client); }
            continue;
          }
        }
        frames ??= this.codec.encodeBatch(payloads);
        client.enqueue(frames, payloads.length);
        if (!client.dirty) { client.dirty = true; dirty.push(client); }
      }
    }
    for (const client of dirty) {
      client.dirty = false;
      client.flush();
    }
  };

  /**
   * Answers a subscribe once the engine has: `subscribed` with the stream position (and, for a
   * subscribe with `since`, whether it was recovered), the replayed publications, then those held back
   * meanwhile that come after them. From then on the client gets nothing at or below what it was given.
   */
  private answerSubscribe(command: Extract<Command, { kind: 'recovered' }>, send: (client: Client, reply: ServerReply) => void): void {
    const { client, channel, id, since, result } = command;
    const held = client.streams.release(channel);
    if (held === undefined || !client.channels.has(channel) || client.state !== 'open') return;
    if (!result) {
      this.leave(client, channel);
      send(client, withId({ type: 'error', code: ErrorCode.Unavailable, channel, message: 'subscribe failed; retry later' }, id));
      return;
    }
    const { position, publications, recovered } = result;
    const resumed = since !== undefined && recovered;
    // Recovered: the replay runs to the position, and held publications continue after it. Otherwise
    // the client gets everything fanned out since it joined, so its position is just before that.
    const base = resumed || held.length === 0 ? position.offset : Math.min(position.offset, held[0]!.offset - 1);
    send(client, withId({
      type: 'subscribed', channel, offset: base, epoch: position.epoch,
      ...(since ? { recovered } : {}),
    }, id));
    let top = base;
    const out: string[] = [];
    if (resumed) for (const p of publications) out.push(p.payload);
    for (const p of held) {
      if (p.offset > top) {
        out.push(p.payload);
        top = p.offset;
      }
    }
    if (out.length > 0) client.enqueue(this.codec.encodeBatch(out), out.length);
    client.streams.setFloor(channel, top);
    if (isPresenceChannel(channel) && !client.presence?.has(channel)) this.presence.join(client, channel);
  }

  private join(client: Client, channel: string): void {
    let members = this.channels.get(channel);
    if (!members) {
      this.channels.set(channel, (members = new Set()));
      let pending: unknown;
      const failed = (error: unknown) => this.reporter.report('error', 'engine_subscribe_failed',
        `livehub: the engine could not subscribe to ${channel}: ${error instanceof Error ? error.message : String(error)}; its publications from other nodes may be late until the engine repairs it`, error);
      try {
        pending = this.engine.subscribe(channel);
      } catch (error) {
        failed(error);
      }
      if (pending instanceof Promise) {
        const settled: Promise<unknown> = pending.catch(failed).finally(() => {
          if (this.subscribing.get(channel) === settled) this.subscribing.delete(channel);
        });
        this.subscribing.set(channel, settled);
      }
    }
    members.add(client);
    client.channels.add(channel);
  }

  private leave(client: Client, channel: string): void {
    const members = this.channels.get(channel);
    client.channels.delete(channel);
    this.presence.leave(client, channel);
    client.streams.forget(channel);
    if (!members) return;
    members.delete(client);
    if (members.size === 0) {
      this.channels.delete(channel);
      after(() => this.engine.unsubscribe(channel), () => {}, (error) => this.reporter.error(error, 'engine_unsubscribe_failed'));
    }
  }

  /** Acts on a message between nodes (`#control`). */
  private control(payload: string): void {
    try {
      const { type, data } = JSON.parse(payload) as { type: string; data: { userId?: string; reason?: string } };
      if (type === 'disconnect-user' && typeof data.userId === 'string') {
        for (const client of this.users.get(data.userId) ?? []) client.close(CloseCode.Disconnected, String(data.reason ?? 'disconnected'));
      }
    } catch (error) {
      this.reporter.error(error, 'bad_control_message');
    }
  }

  /** Registers a client; an authenticated one joins its personal channel `user:<id>`. */
  private add(client: Client): void {
    this.clients.add(client);
    const userId = client.identity?.userId;
    if (userId === undefined) return;
    this.presence.register(client);
    let mine = this.users.get(userId);
    if (!mine) this.users.set(userId, (mine = new Set()));
    mine.add(client);
    this.join(client, userChannel(userId));
  }

  private remove(client: Client): void {
    if (!this.clients.delete(client)) return;
    for (const channel of client.channels) this.leave(client, channel);
    const userId = client.identity?.userId;
    if (userId === undefined) return;
    this.presence.leave(client, userSet(userId));
    const mine = this.users.get(userId);
    mine?.delete(client);
    if (mine?.size === 0) this.users.delete(userId);
  }

  /** Pings peers every `pingPeriod`; terminates those silent for longer than `pongWait`. */
  private sweep(): void {
    const now = Date.now();
    const { pongWait, pingPeriod } = this.options;
    for (const client of this.clients) {
      if (now - client.lastSeen > pongWait) {
        client.terminate();
      } else if (now - client.lastPing >= pingPeriod) {
        client.lastPing = now;
        client.ping();
      }
    }
  }
}

/** Throws a TypeError naming the allowed characters for an invalid channel name. */
function checkChannel(channel: string): void {
  if (!isValidChannel(channel)) {
    throw new TypeError(`livehub: invalid channel name ${JSON.stringify(channel)}: use 1-255 characters of ${NAME_CHARACTERS}, or "*"`);
  }
}

/** Data as JSON, or a TypeError saying why it cannot be (BigInt, a cycle). */
function encodeData(data: unknown): string {
  try {
    return JSON.stringify(data ?? null);
  } catch (error) {
    throw new TypeError(`livehub: data cannot be encoded as JSON: ${(error as Error).message}`);
  }
}

/** The parts of the handshake ws would refuse anyway, checked before any authentication work. */
function isWellFormedHandshake(request: IncomingMessage): boolean {
  const key = request.headers['sec-websocket-key'];
  return request.method === 'GET' && request.headers['sec-websocket-version'] === '13' &&
    typeof key === 'string' && /^[+/0-9A-Za-z]{22}==$/.test(key.trim());
}
