import type { IncomingMessage } from 'node:http';
import type { Engine, HistoryPolicy } from '../engine/engine.js';
import { checkKnownOptions } from '../options-check.js';
import { DEFAULTS, derivePingPeriod, PONG_TIMEOUT } from './defaults.js';
import { resolveHistory, type HistoryOption, type HistoryRule } from './history-policy.js';
import type { Authenticate } from './auth.js';
import type { FrameCodec } from './codec.js';
import { consoleLogger, isLogger, silentLogger, type Logger } from './logger.js';
import { resolveKeepHeaders, type Authorize, type AuthorizeRequest } from './policy.js';

/** What `canPublish` is asked about (an `AuthorizeRequest` with `action: 'publish'`). */
export type PublishRequest = AuthorizeRequest;

/** Options of `new Hub(options)`. Every field is optional. */
export interface HubOptions {
  /**
   * Messages a client may have waiting for its socket before it is evicted as a slow consumer
   * (close 4001). As the Go hub's 256-message client buffer. A subscribe's replay (recovery from
   * history) does not count: the history size bounds it; what arrives live meanwhile does.
   * @default 256
   */
  sendBuffer?: number;
  /**
   * Bytes a client may have waiting (in livehub's queue plus the socket's own buffer) before it is
   * evicted as a slow consumer (close 4001). The bytes of a subscribe's replay still on their way do
   * not count (the latest replay of each channel the client is in).
   * @default 4 MiB
   */
  maxBufferedBytes?: number;
  /**
   * Bytes in a socket's own write buffer above which livehub holds further frames in its queue until
   * the socket drains.
   * @default 256 KiB
   */
  highWaterMark?: number;
  /**
   * Milliseconds a peer may stay silent (no pong, no message) before it is terminated: the time to
   * find a dead connection. Size history to cover it (see the guide "Never losing a message").
   * @default pingPeriod + 8000 (33000), or, with only pongWait given, pingPeriod is derived from it
   */
  pongWait?: number;
  /**
   * Milliseconds between the hub's pings: WebSocket ping frames, which a live peer answers (see
   * `pongWait`), and on SSE a comment line. Neither is visible to a browser's script: clients find a
   * dead link by the heartbeat (`heartbeatPeriod`). Must be less than `pongWait`.
   * @default 25000 (Centrifugo's), or pongWait * 9 / 10 when only pongWait is given (the Go hub's)
   */
  pingPeriod?: number;
  /**
   * Milliseconds after which the hub writes a heartbeat (`{"type":"heartbeat"}`, a few bytes) to a
   * connection of a livehub client (the `livehub.v1` subprotocol, or SSE) that has had nothing else
   * written to it; busy connections get none. The hub announces it in the connection's first frame
   * (`{"type":"connected","heartbeat":4000}`), and the client expects traffic that often: when nothing
   * comes for this plus its `heartbeat.allowance` (1 s), it shows the connection as stale, probes it
   * with a ping and reconnects if that goes unanswered (3 s), so a dead link (a server or network gone
   * silent without closing) is found within 8 s. Browsers see neither WebSocket pings nor SSE comments,
   * hence a message. `Infinity`: no heartbeats and no announcement (the client then pings after its own
   * `heartbeat.interval` of silence). Each idle connection costs one small write per period (see
   * docs/operations.md for the CPU it takes).
   * @default 4000
   */
  heartbeatPeriod?: number;
  /**
   * Milliseconds a blocked write may take (the socket not draining) before the client is evicted.
   * @default 10000
   */
  writeWait?: number;
  /**
   * Milliseconds the hub may hold a connection's frames to send it more in one write, under load
   * only: after a flush that took t ms (writing to many connections) with fewer than 8 frames and 16 KiB
   * per write, the next waits min(t, maxWriteDelay), so writes take at most about half the hub's time and
   * connections get fuller writes; min(2t, maxWriteDelay) when the loop had no idle time since the
   * last such flush (saturated: at most a third). A held flush keeps the hold until its writes carry
   * 16 frames or 16 KiB each. An idle or lightly loaded hub writes at the end of every turn whatever
   * this is. 0: never hold (each turn writes, as gorilla's hub does).
   * @default 200
   */
  maxWriteDelay?: number;
  /**
   * Largest inbound message in bytes; a larger one closes the connection with 1009.
   * @default 65536
   */
  maxMessageSize?: number;
  /**
   * Most WebSocket frames one inbound message may be split into; more closes the connection with
   * 1008, so an unfinished message of tiny fragments cannot pin memory.
   * @default 64
   */
  maxFragments?: number;
  /**
   * Origins allowed to connect, as full origins (`"https://app.example"`), or a function deciding.
   * Requests with no `Origin` header (non-browser clients) are allowed. A refused origin gets HTTP 403.
   * @default same origin only: the Origin's host must equal the request's Host
   */
  origins?: readonly string[] | ((origin: string, request: IncomingMessage) => boolean);
  /**
   * Decides whether a client may publish, when there is no `authorize`. May be async; an error denies.
   * @default every client publish is denied with an error frame `forbidden`
   */
  canPublish?: (request: PublishRequest) => boolean | Promise<boolean>;
  /**
   * Authenticates the upgrade request: returns an Identity, null (anonymous), or throws an AuthError
   * (its HTTP status, 401 by default, is the answer before the upgrade). See `jwtAuthenticator`.
   * @default every connection is anonymous
   */
  authenticate?: Authenticate;
  /**
   * Decides subscribe and publish requests (see policy.ts for the built-in rules it comes after).
   * Denials are error frames `forbidden`, never closes.
   * @default subscribe anywhere but `private-`/`presence-`; publish as `canPublish` says
   */
  authorize?: Authorize;
  /**
   * Request headers each connection keeps for its life, for `authorize`, `canPublish`,
   * `presenceInfo` and handlers (`request.headers`); `authenticate` sees them all either way.
   * Browsers send 0.5–1.5 KB (cookies, user agent): with many connections, name the ones you read.
   * @default 'all' (but the WebSocket handshake's own)
   */
  keepHeaders?: readonly string[] | 'all';
  /**
   * Connections the hub holds at most; beyond, HTTP 503 before the upgrade.
   * @default 100000
   */
  maxConnections?: number;
  /**
   * Connections from one IP address (as `clientIp` gives it); beyond, HTTP 429.
   * @default 1000
   */
  maxConnectionsPerIp?: number;
  /**
   * The address a connection counts under for `maxConnectionsPerIp`. Behind a reverse proxy every
   * connection comes from the proxy: return the client's address from the header your proxy sets
   * (and trust that header only from it). A hook that throws or returns no string counts the
   * connection under the socket's address, and the error goes to `onError`.
   * @default the socket's remote address
   */
  clientIp?: (request: IncomingMessage) => string;
  /**
   * Connections of one authenticated user; beyond, HTTP 429.
   * @default 100
   */
  maxConnectionsPerUser?: number;
  /**
   * Channels one client may be subscribed to; beyond, an error frame `too_many_channels`.
   * @default 128
   */
  maxChannelsPerClient?: number;
  /**
   * Pattern subscriptions (`sensors/+/temp`) one client may hold; beyond, an error frame
   * `too_many_patterns` (an MQTT SUBACK 0x97).
   * @default 16
   */
  maxPatternsPerClient?: number;
  /**
   * Inbound messages (and pings) a second one client may send, sustained.
   * @default 100
   */
  rateLimit?: number;
  /**
   * Inbound messages a client may send in a burst. Over the limit, messages are dropped and answered
   * with `rate_limited` (once per second); after `rateLimitBurst` dropped within a second, the
   * connection is closed with 4003.
   * @default 200
   */
  rateLimitBurst?: number;
  /**
   * Deepest JSON nesting accepted in an inbound message; deeper: error frame `too_deep`.
   * @default 32
   */
  maxJsonDepth?: number;
  /**
   * Most object keys accepted in an inbound message; more: error frame `too_many_keys`.
   * @default 1024
   */
  maxJsonKeys?: number;
  /**
   * Where stream positions and history live, and how publications reach other nodes.
   * @default a MemoryEngine (this process only; a restart starts new epochs)
   */
  engine?: Engine;
  /**
   * History kept per channel for recovery after reconnects: `size` publications at most, each for
   * `ttl` ms. `channels` overrides it by channel pattern (first match wins; a string pattern may end
   * in `*` to match a prefix), e.g. `{ match: 'typing:*', size: 0 }`.
   * @default { size: 100, ttl: 300000 }
   */
  history?: HistoryOption;
  /**
   * Milliseconds a connection stays in a presence channel without its node refreshing it (every third
   * of this): a dead node's users leave after at most this long.
   * @default 30000
   */
  presenceTtl?: number;
  /**
   * What other members see of a connection in a presence channel (a display name, an avatar).
   * @default nothing
   */
  presenceInfo?: (identity: import('./auth.js').Identity | null, clientId: string, request: import('./policy.js').RequestInfo) => unknown;
  /**
   * Milliseconds a client publish id is remembered, so a retry (same string id, same user) is acked
   * again without being published twice.
   * @default 120000
   */
  publishDedupeWindow?: number;
  /**
   * Negotiate permessage-deflate for inbound messages; `maxMessageSize` then bounds the inflated size.
   * livehub's own frames go out uncompressed (allowed by RFC 7692).
   * @default false
   */
  perMessageDeflate?: boolean;
  /**
   * Milliseconds a server-side handler (`hub.handle`) has to answer a request with an id; after it,
   * the client is answered `timeout` (and a later answer is dropped).
   * @default 10000
   */
  handlerTimeout?: number;
  /**
   * Milliseconds an EventSource waits before it reconnects a dropped stream (the SSE `retry:`
   * field); it then resumes every channel from its last event id.
   * @default 2000
   */
  eventSourceRetry?: number;
  /**
   * Frame encoder for the fan-out: `'js'`, `'wasm'` or a codec object.
   * @default 'js'
   */
  codec?: 'js' | 'wasm' | FrameCodec;
  /**
   * Called with errors livehub cannot hand to anyone else (a failing policy, a socket error), besides
   * being logged.
   * @default none
   */
  onError?: (error: Error) => void;
  /**
   * Where livehub reports what goes wrong (a refused origin, an unreachable engine, a failed publish,
   * an eviction), naming the cause and the fix: anything with `debug/info/warn/error(context,
   * message)`, such as pino or `console`. Each cause is reported at most once a minute. `false`
   * turns logging off.
   * @default warnings and errors to the console
   */
  logger?: Logger | false;
}

export interface ResolvedHubOptions {
  sendBuffer: number;
  maxBufferedBytes: number;
  highWaterMark: number;
  pongWait: number;
  pingPeriod: number;
  heartbeatPeriod: number;
  writeWait: number;
  maxWriteDelay: number;
  maxMessageSize: number;
  origins: HubOptions['origins'];
  canPublish: NonNullable<HubOptions['canPublish']> | null;
  authenticate: Authenticate | null;
  authorize: Authorize | null;
  keepHeaders: ReadonlySet<string> | null;
  maxConnections: number;
  maxConnectionsPerIp: number;
  clientIp: ((request: IncomingMessage) => string) | null;
  maxConnectionsPerUser: number;
  maxChannelsPerClient: number;
  maxPatternsPerClient: number;
  rateLimit: number;
  rateLimitBurst: number;
  maxJsonDepth: number;
  maxJsonKeys: number;
  perMessageDeflate: boolean;
  engine: Engine | null;
  history: HistoryPolicy;
  historyRules: HistoryRule[];
  publishDedupeWindow: number;
  presenceTtl: number;
  presenceInfo: ((identity: import('./auth.js').Identity | null, clientId: string, request: import('./policy.js').RequestInfo) => unknown) | null;
  maxFragments: number;
  eventSourceRetry: number;
  handlerTimeout: number;
  codec: NonNullable<HubOptions['codec']>;
  onError: ((error: Error) => void) | null;
  logger: Logger;
}

/** Every option `new Hub()` knows (an unknown one is a TypeError). */
export const HUB_OPTIONS: ReadonlyArray<keyof HubOptions> = [
  'sendBuffer', 'maxBufferedBytes', 'highWaterMark', 'pongWait', 'pingPeriod', 'heartbeatPeriod', 'writeWait', 'maxWriteDelay', 'maxMessageSize',
  'maxFragments', 'origins', 'canPublish', 'authenticate', 'authorize', 'maxConnections', 'maxConnectionsPerIp',
  'clientIp', 'maxConnectionsPerUser', 'maxChannelsPerClient', 'maxPatternsPerClient', 'rateLimit', 'rateLimitBurst', 'maxJsonDepth',
  'maxJsonKeys', 'engine', 'history', 'presenceTtl', 'presenceInfo', 'publishDedupeWindow', 'perMessageDeflate',
  'codec', 'onError', 'logger', 'eventSourceRetry', 'handlerTimeout', 'keepHeaders',
];


function positiveInteger(options: HubOptions, key: Exclude<keyof typeof DEFAULTS, 'historySize' | 'historyTtl'>, fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(Number.isInteger(value) || value === Infinity) || value <= 0) {
    throw new TypeError(`livehub: option ${key} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function wholeNumber(options: HubOptions, key: 'maxWriteDelay', fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`livehub: option ${key} must be a whole number of milliseconds (0 or more), got ${String(value)}`);
  }
  return value;
}

function optionalFunction<T>(options: HubOptions, key: 'canPublish' | 'authenticate' | 'authorize' | 'onError' | 'presenceInfo' | 'clientIp'): T | null {
  const value = options[key];
  if (value === undefined) return null;
  if (typeof value !== 'function') throw new TypeError(`livehub: option ${key} must be a function`);
  return value as T;
}

/** Validates options at once: a bad option throws a TypeError from the constructor. */
export function resolveOptions(options: HubOptions = {}): ResolvedHubOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('livehub: options must be an object');
  }
  checkKnownOptions(options, HUB_OPTIONS, 'new Hub()');
  const given = positiveInteger(options, 'pingPeriod', 0) || undefined;
  const pongWait = positiveInteger(options, 'pongWait', given === undefined ? DEFAULTS.pongWait : given + PONG_TIMEOUT);
  const pingPeriod = given ?? (options.pongWait === undefined ? DEFAULTS.pingPeriod : derivePingPeriod(pongWait));
  if (pingPeriod >= pongWait) {
    throw new TypeError(`livehub: pingPeriod (${pingPeriod}) must be less than pongWait (${pongWait})`);
  }
  const { origins, codec = 'js', perMessageDeflate = false } = options;
  if (origins !== undefined && typeof origins !== 'function' &&
      !(Array.isArray(origins) && origins.every((o) => typeof o === 'string'))) {
    throw new TypeError('livehub: option origins must be an array of origin strings or a function');
  }
  if (codec !== 'js' && codec !== 'wasm' && (typeof codec !== 'object' || typeof codec.encodeBatch !== 'function')) {
    throw new TypeError("livehub: option codec must be 'js', 'wasm' or a FrameCodec");
  }
  if (typeof perMessageDeflate !== 'boolean') throw new TypeError('livehub: option perMessageDeflate must be a boolean');
  const onError = optionalFunction<(error: Error) => void>(options, 'onError');
  const { logger = consoleLogger } = options;
  if (logger !== false && !isLogger(logger)) {
    throw new TypeError('livehub: option logger must have debug, info, warn and error methods (pino, console), or be false');
  }
  const { engine } = options;
  if (engine !== undefined && (engine === null || typeof engine !== 'object' || typeof engine.publish !== 'function')) {
    throw new TypeError('livehub: option engine must be an Engine');
  }
  const history = resolveHistory(options.history);
  return {
    engine: engine ?? null,
    history: history.base,
    historyRules: history.rules,
    publishDedupeWindow: positiveInteger(options, 'publishDedupeWindow', DEFAULTS.publishDedupeWindow),
    presenceTtl: positiveInteger(options, 'presenceTtl', DEFAULTS.presenceTtl),
    presenceInfo: optionalFunction(options, 'presenceInfo'),
    sendBuffer: positiveInteger(options, 'sendBuffer', DEFAULTS.sendBuffer),
    maxBufferedBytes: positiveInteger(options, 'maxBufferedBytes', DEFAULTS.maxBufferedBytes),
    highWaterMark: positiveInteger(options, 'highWaterMark', DEFAULTS.highWaterMark),
    pongWait,
    pingPeriod,
    heartbeatPeriod: positiveInteger(options, 'heartbeatPeriod', DEFAULTS.heartbeatPeriod),
    writeWait: positiveInteger(options, 'writeWait', DEFAULTS.writeWait),
    maxWriteDelay: wholeNumber(options, 'maxWriteDelay', DEFAULTS.maxWriteDelay),
    maxMessageSize: positiveInteger(options, 'maxMessageSize', DEFAULTS.maxMessageSize),
    maxFragments: positiveInteger(options, 'maxFragments', DEFAULTS.maxFragments),
    eventSourceRetry: positiveInteger(options, 'eventSourceRetry', DEFAULTS.eventSourceRetry),
    handlerTimeout: positiveInteger(options, 'handlerTimeout', DEFAULTS.handlerTimeout),
    origins,
    canPublish: optionalFunction(options, 'canPublish'),
    authenticate: optionalFunction(options, 'authenticate'),
    authorize: optionalFunction(options, 'authorize'),
    keepHeaders: resolveKeepHeaders(options.keepHeaders),
    maxConnections: positiveInteger(options, 'maxConnections', DEFAULTS.maxConnections),
    maxConnectionsPerIp: positiveInteger(options, 'maxConnectionsPerIp', DEFAULTS.maxConnectionsPerIp),
    clientIp: optionalFunction(options, 'clientIp'),
    maxConnectionsPerUser: positiveInteger(options, 'maxConnectionsPerUser', DEFAULTS.maxConnectionsPerUser),
    maxChannelsPerClient: positiveInteger(options, 'maxChannelsPerClient', DEFAULTS.maxChannelsPerClient),
    maxPatternsPerClient: positiveInteger(options, 'maxPatternsPerClient', DEFAULTS.maxPatternsPerClient),
    rateLimit: positiveInteger(options, 'rateLimit', DEFAULTS.rateLimit),
    rateLimitBurst: positiveInteger(options, 'rateLimitBurst', DEFAULTS.rateLimitBurst),
    maxJsonDepth: positiveInteger(options, 'maxJsonDepth', DEFAULTS.maxJsonDepth),
    maxJsonKeys: positiveInteger(options, 'maxJsonKeys', DEFAULTS.maxJsonKeys),
    perMessageDeflate,
    codec,
    onError,
    logger: logger === false ? silentLogger : logger,
  };
}

export { DEFAULTS, derivePingPeriod, PONG_TIMEOUT };
