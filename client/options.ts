import { checkKnownOptions } from '../pkg/options-check.js';
import type { WebSocketConstructor } from './socket.js';
import type { TransportOption } from './transport-connection.js';
import type { DialectOption } from './dialect.js';
import type { EventSourceConstructor } from './transport-sse.js';
import { HEARTBEAT_ALLOWANCE, type HeartbeatTiming } from './heartbeat.js';
import { groupOptions, FLAT_NAMES, type FlatOptions } from './options-flat.js';
import type { HeartbeatOptions, OutboxOptions, ReconnectOptions } from './option-groups.js';

export type { HeartbeatOptions, OutboxOptions, ReconnectOptions };

export interface LiveClientOptions extends FlatOptions {
  /**
   * How to reach the hub. `'websocket'`: one WebSocket at the URL. `'sse'`: Server-Sent Events
   * (an EventSource on `eventsUrl`, commands as POSTs to it), for networks that break WebSocket
   * upgrades. `'auto'`: WebSocket first; after `fallbackAfter` attempts in a row that cannot open, SSE,
   * trying WebSocket again in the background every `websocketRetryInterval` ms and when the browser
   * comes back online, and moving back once it opens. The API is the same on both.
   * @default 'websocket'
   */
  transport?: TransportOption;
  /**
   * The protocol spoken over WebSocket. `'livehub'`: livehub's own (request ids, confirmations,
   * recovery), negotiated with the `livehub.v1` subprotocol. `'plain'`: that of the Go hub livehub
   * began as (subscribe and unsubscribe frames with no id, no confirmations, `\n`-separated messages
   * in one frame, no client heartbeat). `'auto'`: livehub's, and plain with a server that selects no
   * subprotocol (a browser only fails such a handshake, so the next attempt offers none);
   * `client.dialect` says which one the connection speaks.
   * @default 'auto'
   */
  dialect?: DialectOption;
  /**
   * The hub's SSE endpoint (absolute, or relative to the page).
   * @default the WebSocket URL's host with `http(s):` and path `/events` (`ws://h/ws` → `http://h/events`)
   */
  eventsUrl?: string;
  /**
   * EventSource implementation, for `transport: 'sse' | 'auto'`: the browser's, or `EventSource` from
   * the `eventsource` package (Node has no global one).
   * @default globalThis.EventSource
   */
  EventSource?: EventSourceConstructor;
  /**
   * With `transport: 'auto'`: WebSocket attempts in a row that fail before opening (refused, or no
   * handshake within `connectTimeout`) before falling back to SSE; as many SSE failures in a row go
   * back to WebSocket (the server may be down rather than the WebSocket path blocked).
   * @default 2
   */
  fallbackAfter?: number;
  /**
   * With `transport: 'auto'`, while on SSE: how often, in ms, to try a WebSocket in the background
   * (also tried when the browser comes back online). Once one opens, the client moves to it.
   * @default 300000 (5 minutes)
   */
  websocketRetryInterval?: number;
  /**
   * How long `request()` waits for the reply, in ms, unless its `timeout` says otherwise.
   * @default 10000
   */
  requestTimeout?: number;
  /**
   * WebSocket implementation: the browser's `WebSocket`, `ws`'s, or anything shaped like them.
   * @default globalThis.WebSocket, else the `ws` package (Node 20), loaded on first connect
   */
  WebSocket?: WebSocketConstructor;
  /**
   * Connect when constructed.
   * @default true
   */
  autoConnect?: boolean;
  /**
   * Reconnecting after the connection drops (unless the close code is terminal, see
   * docs/protocol.md): `false` never reconnects, `true` reconnects with the defaults, an object
   * reconnects with its backoff (`{ delay, maxDelay, maxAttempts, restartWindow }`).
   * @default true
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * Watching an open connection: traffic expected within the heartbeat period the server announced
   * plus `allowance` (else the connection is stale and probed with a `ping`), or, from a server that
   * announces none, a `ping` after `interval` ms of silence; dropped when the ping goes unanswered
   * for `timeout`.
   */
  heartbeat?: HeartbeatOptions;
  /** Publishes and requests kept until the server has them: how many, what happens when full, where kept. */
  outbox?: OutboxOptions;
  /**
   * An attempt whose handshake has not completed (opened) within this many ms, `getToken()`
   * included, is closed and tried again with backoff (error `connect_timeout`, status `reconnecting`).
   * @default 10000
   */
  connectTimeout?: number;
  /**
   * How long to wait for the server's answer to a publish (then sent again, with the same id: the
   * server acks a retry without publishing twice), a subscribe (then retried), `presence()` and
   * `setStatus()` (then rejected with `timeout`), in ms.
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

/** The options with their defaults, grouped. */
export interface ResolvedOptions {
  transport: TransportOption;
  eventsUrl?: string;
  EventSource?: EventSourceConstructor;
  fallbackAfter: number;
  websocketRetryInterval: number;
  requestTimeout: number;
  WebSocket?: WebSocketConstructor;
  autoConnect: boolean;
  reconnect: Required<ReconnectOptions> & { enabled: boolean };
  heartbeat: HeartbeatTiming;
  outbox: Required<Omit<OutboxOptions, 'storage'>> & Pick<OutboxOptions, 'storage'>;
  connectTimeout: number;
  ackTimeout: number;
  getToken?: () => string | null | Promise<string | null>;
  tokenParameter: string;
  dialect: DialectOption;
  random: () => number;
}

const KNOWN = [
  'WebSocket', 'autoConnect', 'reconnect', 'heartbeat', 'outbox', 'connectTimeout', 'ackTimeout', 'getToken',
  'tokenParameter', 'random', 'transport', 'eventsUrl', 'EventSource', 'fallbackAfter', 'websocketRetryInterval',
  'requestTimeout', 'dialect', ...FLAT_NAMES,
] as const satisfies ReadonlyArray<keyof LiveClientOptions>;

const TRANSPORTS = ['websocket', 'sse', 'auto'];
const DIALECTS = ['livehub', 'plain', 'auto'];

function positiveMs(name: string, value: unknown): void {
  if (!(typeof value === 'number' && value > 0)) throw new TypeError(`livehub: option ${name} must be a positive number of ms, got ${String(value)}`);
}

function count(name: string, value: unknown, min: number, infinite = false): void {
  if ((typeof value === 'number' && Number.isInteger(value) && value >= min) || (infinite && value === Infinity)) return;
  throw new TypeError(`livehub: option ${name} must be an integer of at least ${min}${infinite ? ' (or Infinity)' : ''}, got ${String(value)}`);
}

/**
 * The options with their defaults; throws a TypeError for an unknown option, a bad value, or a
 * deprecated flat name given with its grouped field.
 */
export function resolveOptions(url: string, options: LiveClientOptions): ResolvedOptions {
  checkKnownOptions(options, KNOWN, 'new LiveClient()');
  const groups = groupOptions(options);
  const given = Object.fromEntries(Object.entries(options).filter(([key, value]) => value !== undefined && !(FLAT_NAMES as readonly string[]).includes(key)));
  const resolved: ResolvedOptions = {
    autoConnect: true, connectTimeout: 10_000, ackTimeout: 10_000, random: Math.random, tokenParameter: 'token',
    transport: 'websocket', dialect: 'auto', fallbackAfter: 2, websocketRetryInterval: 300_000, requestTimeout: 10_000, ...given,
    reconnect: { enabled: groups.reconnectEnabled, delay: 500, maxDelay: 30_000, maxAttempts: Infinity, restartWindow: 10_000, ...groups.reconnect },
    heartbeat: { interval: null, timeout: null, allowance: HEARTBEAT_ALLOWANCE, ...groups.heartbeat },
    outbox: { maxSize: 1000, overflow: 'drop-oldest', maxAttempts: 5, storageKey: `livehub:outbox:${url}`, ...groups.outbox },
  };
  for (const key of ['connectTimeout', 'ackTimeout', 'websocketRetryInterval', 'requestTimeout'] as const) positiveMs(key, resolved[key]);
  positiveMs('reconnect.delay', resolved.reconnect.delay);
  positiveMs('reconnect.maxDelay', resolved.reconnect.maxDelay);
  count('reconnect.maxAttempts', resolved.reconnect.maxAttempts, 0, true);
  const { restartWindow } = resolved.reconnect;
  if (!(typeof restartWindow === 'number' && restartWindow >= 0 && restartWindow < Infinity)) {
    throw new TypeError(`livehub: option reconnect.restartWindow must be a number of ms >= 0 (0: a 1012 close is like any other), got ${String(restartWindow)}`);
  }
  if (resolved.heartbeat.interval !== null) positiveMs('heartbeat.interval', resolved.heartbeat.interval);
  if (resolved.heartbeat.timeout !== null) positiveMs('heartbeat.timeout', resolved.heartbeat.timeout);
  positiveMs('heartbeat.allowance', resolved.heartbeat.allowance);
  count('outbox.maxSize', resolved.outbox.maxSize, 1);
  count('outbox.maxAttempts', resolved.outbox.maxAttempts, 1);
  if (resolved.outbox.overflow !== 'drop-oldest' && resolved.outbox.overflow !== 'reject') {
    throw new TypeError(`livehub: option outbox.overflow must be 'drop-oldest' or 'reject', got ${String(resolved.outbox.overflow)}`);
  }
  if (typeof resolved.outbox.storageKey !== 'string' || resolved.outbox.storageKey.length === 0) {
    throw new TypeError('livehub: option outbox.storageKey must be a non-empty string');
  }
  if (!DIALECTS.includes(resolved.dialect)) {
    throw new TypeError(`livehub: option dialect must be 'livehub', 'plain' or 'auto', got ${String(resolved.dialect)}`);
  }
  if (!TRANSPORTS.includes(resolved.transport)) {
    throw new TypeError(`livehub: option transport must be 'websocket', 'sse' or 'auto', got ${String(resolved.transport)}`);
  }
  if (!(Number.isInteger(resolved.fallbackAfter) && resolved.fallbackAfter > 0)) {
    throw new TypeError(`livehub: option fallbackAfter must be a positive integer, got ${String(resolved.fallbackAfter)}`);
  }
  if (resolved.eventsUrl !== undefined && (typeof resolved.eventsUrl !== 'string' || resolved.eventsUrl.length === 0)) {
    throw new TypeError('livehub: option eventsUrl must be a non-empty string (the hub\'s SSE endpoint, e.g. \'/events\')');
  }
  if (resolved.EventSource !== undefined && typeof resolved.EventSource !== 'function') {
    throw new TypeError('livehub: option EventSource must be an EventSource class (the browser\'s, or `EventSource` from the eventsource package)');
  }
  if (resolved.WebSocket !== undefined && typeof resolved.WebSocket !== 'function') {
    throw new TypeError('livehub: option WebSocket must be a WebSocket class (the browser\'s, or `WebSocket` from `ws`)');
  }
  return resolved;
}
