import type { IncomingMessage } from 'node:http';
import type { Engine } from '../engine/engine.js';
import { CloseCode, type ServerReply } from '../protocol/index.js';
import { HubApi } from './api.js';
import type { Identity } from './auth.js';
import { sessionInfo } from './events.js';
import { Gate, originAllowed } from './gate.js';
import type { Toolkit } from './handlers.js';
import type { ResolvedHubOptions } from './options.js';
import { keptRequestInfo, requestInfo, type RequestInfo } from './policy.js';
import { decodeNodeMessage, encodeNodeMessage, type NodeMessage } from './node-messages.js';
import { Presence } from './presence.js';
import { Publisher } from './publisher.js';
import { createReporter, type Reporter } from './report.js';
import { Router } from './router.js';
import { Session } from './session.js';
import { outgoing } from './shaping.js';
import { makeToolkit } from './toolkit.js';
import type { Transport, TransportEndpoint, TransportHost } from './transport.js';
import { authorizeAs, publishAs } from './publish-as.js';
import { membersOf } from './members.js';
import { UserStreams } from './user-streams.js';

/**
 * The hub's core: the loop (loop.ts) and the server-side API (api.ts), with the engine, presence,
 * publisher, router and gate they use, and the transports added to it. It imports no transport and
 * no engine implementation: the composition root (pkg/hub.ts) hands it the engine and adds the
 * built-in transports, which reach it through `host` (the public transport API) like any other.
 * Everything here is wiring for sessions, transports and the facade; users see `Hub`.
 */
export class HubCore extends HubApi {
  readonly reporter: Reporter;
  readonly engine: Engine;
  readonly presence: Presence;
  readonly publisher: Publisher;
  readonly router: Router;
  readonly gate: Gate;
  readonly userStreams: UserStreams;
  /** What transports get: admission, sessions, node messages (the public transport API). */
  readonly host: TransportHost;
  readonly node = Math.random().toString(36).slice(2, 8);
  private readonly endpoints = new Map<string, TransportEndpoint>();
  /** Handlers of messages other nodes send this node, by topic (`TransportHost.onNodeMessage`). */
  private readonly nodeTopics = new Map<string, (data: string) => void>();
  private nextId = 0;
  private drained: Promise<void> | null = null;
  private engineIsUp = true;

  constructor(readonly options: ResolvedHubOptions, engine: Engine, private readonly ownsEngine: boolean) {
    super();
    this.reporter = createReporter(options);
    this.engine = engine;
    const { reporter } = this;
    void Promise.resolve(engine.start({
      node: this.node,
      message: (text) => this.nodeMessage(text),
      deliver: (publication) => this.enqueue({ kind: 'publication', publication }),
      reset: (channel, position) => this.enqueue({ kind: 'reset', channel, position }),
      log: (level, cause, context, message) => {
        this.engineState(context.code, message);
        reporter.report(level, context.code, message, context.err, cause);
      },
    })).then(() => {
      if (this.events.listening['node.started']) this.events.emit('node.started', { node: this.node });
    }).catch((error: Error) =>
      reporter.report('error', 'engine_start_failed', `livehub: the engine did not start: ${error.message}; cross-node commands (disconnectUser) will not arrive until it does`, error));
    this.presence = new Presence(engine, {
      options,
      reporter,
      // Joins and leaves are announced even while the hub closes, so other nodes see users go.
      publish: (channel, type, data) => this.publisher.publishJson(channel, type, JSON.stringify(data ?? null), {}, true),
      reply: (session, reply) => this.reply(session, reply),
      presenceChanged: (channel, userId, joined) => this.presenceChanged(channel, userId, joined),
    }, () => this.sessions);
    this.publisher = new Publisher(engine, options, reporter, this.events, () => this.closing !== null);
    this.router = new Router(this);
    this.gate = new Gate(options, reporter);
    this.userStreams = new UserStreams({
      engine, reporter,
      reply: (session, reply) => this.reply(session, reply),
      sessionsOf: (userId) => membersOf(this.users.get(userId)),
      sendNodeMessage: (node, message) => this.sendNodeMessage(node, message),
      onNodeMessage: (topic, handler) => this.onNodeMessage(topic, handler),
    });
    this.host = transportHost(this);
  }

  /** Starts a transport endpoint with the transport API; its name must be new to this hub. */
  addTransport(endpoint: TransportEndpoint): void {
    if (endpoint === null || typeof endpoint !== 'object' || typeof endpoint.start !== 'function' || typeof endpoint.stop !== 'function' || typeof endpoint.name !== 'string' || !endpoint.name) {
      throw new TypeError('livehub: a transport endpoint has a name, and start(host) and stop() methods (see livehub/transport)');
    }
    if (this.endpoints.has(endpoint.name)) throw new TypeError(`livehub: the hub already has a transport named ${JSON.stringify(endpoint.name)}`);
    if (this.closing) throw new TypeError('livehub: the hub is closed; it takes no new transport');
    this.endpoints.set(endpoint.name, endpoint);
    const failed = (error: unknown) => this.reporter.error(error, 'transport_start_failed',
      `livehub: the ${endpoint.name} transport did not start: ${error instanceof Error ? error.message : String(error)}; its clients cannot connect`);
    try {
      const started = endpoint.start(this.host);
      if (started instanceof Promise) started.catch(failed);
    } catch (error) {
      this.endpoints.delete(endpoint.name);
      failed(error);
      throw error;
    }
  }

  /** Closes every session (1001, after its queued frames), stops the transports, then the engine it owns. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.sweeper.stop();
    this.presence.close();
    this.turn();
    this.writes.flush();
    const closed = [...this.sessions].map((session) => session.shutdown(CloseCode.GoingAway, 'server shutting down'));
    this.closing = Promise.all(closed).then(async () => {
      await Promise.all([...this.endpoints.values()].map(async (endpoint) => {
        try {
          await endpoint.stop();
        } catch (error) {
          this.reporter.error(error, 'transport_stop_failed', `livehub: the ${endpoint.name} transport failed to stop: ${(error as Error)?.message}`);
        }
      }));
      if (this.ownsEngine) await this.engine.close();
    });
    return this.closing;
  }

  /**
   * Refuses new connections, then closes every session with 1012 spread over `spread` ms. `alone`:
   * no other node shares the engine, so the clients can only come back to this node's successor.
   */
  drain(spread: number, alone = false): Promise<void> {
    if (this.drained) return this.drained;
    if (this.events.listening['node.draining']) this.events.emit('node.draining', { connections: this.sessions.size });
    if (alone && spread > 0) {
      this.reporter.report('warn', 'drain_spread_alone', `livehub: draining node ${this.node} over ${spread} ms on the memory engine, where no other node can take its ${this.sessions.size} connections: `
        + 'the first ones closed are refused (503) until the next process listens, and miss what is published meanwhile; drain({ spread: 0 }) (the default there) closes them all at once');
    }
    this.reporter.report('info', 'draining', alone
      ? `livehub: draining node ${this.node}: ${this.sessions.size} connections closed ${spread > 0 ? `over ${spread} ms` : 'at once'}; they reconnect to the next process (the memory engine has no other node)`
      : `livehub: draining node ${this.node}: ${this.sessions.size} connections move to other nodes over ${spread} ms`);
    const closes = [...this.sessions].map((session) => new Promise<void>((resolve) => {
      setTimeout(() => session.shutdown(CloseCode.ServiceRestart, 'node draining; reconnect').then(resolve), Math.random() * spread).unref();
    }));
    this.drained = Promise.all(closes).then(() => {});
    return this.drained;
  }

  /** True once `drain()` or `close()` was called: new connections are refused. */
  get draining(): boolean {
    return this.drained !== null || this.closing !== null;
  }

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

  // The transport API (transportHost below): sessions and node messages.

  open(transport: Transport, request: RequestInfo, identity: Identity | null, fullProtocol: boolean): Session {
    const session = new Session(`${this.node}-${++this.nextId}`, transport, request, this, identity, fullProtocol);
    this.enqueue({ kind: 'register', session });
    return session;
  }

  sendToNode(node: string, topic: string, data: string): Promise<boolean> {
    return this.sendNodeMessage(node, { kind: 'topic', topic, data }).catch((error: unknown) => {
      this.reporter.report('error', 'node_message_failed', `livehub: a ${topic} message for node ${node} could not be sent through the engine: ${error instanceof Error ? error.message : String(error)}; the sender is told`, error);
      throw error;
    });
  }

  /** Sends a node message to one node, or to every node (this one too) with `node` null. */
  sendNodeMessage(node: string | null, message: NodeMessage): Promise<boolean> {
    return Promise.resolve().then(() => this.engine.send(node, encodeNodeMessage(message)));
  }

  /**
   * A node message from the engine: acted on, or logged when it cannot be read or its handler
   * throws (it arrives in the engine's network callback, which must never see an exception).
   */
  private nodeMessage(text: string): void {
    let message: NodeMessage;
    try {
      message = decodeNodeMessage(text);
    } catch (error) {
      this.reporter.report('warn', 'bad_node_message', `${(error as Error).message}; it was dropped (a node of another livehub version, or not livehub, shares the engine's prefix?)`, error);
      return;
    }
    if (message.kind === 'disconnect-user') {
      this.enqueue({ kind: 'disconnect-user', userId: message.userId, reason: message.reason });
      return;
    }
    const handler = this.nodeTopics.get(message.topic);
    if (handler === undefined) {
      this.reporter.report('warn', 'bad_node_message', `livehub: a node message of topic ${JSON.stringify(message.topic)} has no handler on node ${this.node}; it was dropped (is that transport added to every node?)`);
      return;
    }
    try {
      handler(message.data);
    } catch (error) {
      this.reporter.error(error, 'node_message_failed', `livehub: the ${message.topic} node message handler threw: ${(error as Error)?.message}`);
    }
  }

  onNodeMessage(topic: string, handler: (data: string) => void): void {
    if (this.nodeTopics.has(topic)) throw new TypeError(`livehub: node messages of topic ${JSON.stringify(topic)} already have a handler`);
    this.nodeTopics.set(topic, handler);
  }

  // SessionHost and RouterHost: called by sessions and the router; each only queues.

  receive(session: Session, text: string): void {
    this.router.receive(session, text);
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
      reporter: this.reporter,
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

/** The transport API a hub's core gives every transport endpoint, built-in or an app's. */
export function transportHost(core: HubCore): TransportHost {
  return {
    get options() { return core.options; },
    get reporter() { return core.reporter; },
    get node() { return core.node; },
    get closing() { return core.draining; },
    // The hooks are typed for an IncomingMessage; a transport without one passes its request-like part.
    admit: (request, socket, options) => core.gate.admit(request as IncomingMessage, socket, options?.originChecked === true),
    originAllowed: (request) => originAllowed(core.options, request as IncomingMessage, core.reporter),
    refusedOrigin: (request) => core.gate.refusedOrigin(request as IncomingMessage),
    requestInfo: (request, options) => {
      const { keepHeaders } = core.options;
      // A request that lives as long as its session (an SSE stream) is not copied when every header is kept.
      return options?.live === true && keepHeaders === null ? requestInfo(request as IncomingMessage) : keptRequestInfo(request as IncomingMessage, keepHeaders);
    },
    open: (transport, request, identity, options) => core.open(transport, request, identity, options?.fullProtocol ?? true),
    sendToNode: (node, topic, data) => core.sendToNode(node, topic, data),
    onNodeMessage: (topic, handler) => core.onNodeMessage(topic, handler),
    publish: (channel, type, dataJson, as) => publishAs(core, channel, type, dataJson, as),
    history: (channel, options) => core.history(channel, options),
    outgoing: (session, message) => {
      if (!(session instanceof Session)) throw new TypeError('livehub: host.outgoing takes a session that host.open returned');
      return outgoing(core.outgoingHook, message, session, core.reporter);
    },
    get records() { return core.engine.records ?? null; },
    authorize: (action, channel, as) => authorizeAs(core, action, channel, as),
  };
}
