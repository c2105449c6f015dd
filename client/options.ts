import { checkKnownOptions } from '../pkg/options-check.js';
import type { WebSocketConstructor } from './socket.js';
import type { TransportOption } from './transport-connection.js';
import type { EventSourceConstructor } from './transport-sse.js';

export interface LiveClientOptions {
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
   * An attempt whose handshake has not completed (opened) within this many ms, `getToken()`
   * included, is closed and tried again with backoff (error `connect_timeout`, status `reconnecting`).
   * @default 10000
   */
  connectTimeout?: number;
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
   * Publishes kept until acked (sent or waiting for a connection), and requests waiting to be sent
   * or answered; beyond it, `queueOverflow` applies.
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

type Optional = 'WebSocket' | 'EventSource' | 'eventsUrl' | 'getToken' | 'storage';
export type ResolvedOptions = Required<Omit<LiveClientOptions, Optional>> & Pick<LiveClientOptions, Optional>;

const KNOWN = [
  'WebSocket', 'autoConnect', 'reconnect', 'reconnectDelay', 'maxReconnectDelay', 'maxReconnectAttempts',
  'connectTimeout', 'heartbeatInterval', 'heartbeatTimeout', 'maxQueuedPublishes', 'queueOverflow',
  'ackTimeout', 'maxPublishAttempts', 'storage', 'storageKey', 'getToken', 'tokenParameter', 'random',
  'transport', 'eventsUrl', 'EventSource', 'fallbackAfter', 'websocketRetryInterval', 'requestTimeout',
] as const satisfies ReadonlyArray<keyof LiveClientOptions>;

const POSITIVE = [
  'reconnectDelay', 'maxReconnectDelay', 'connectTimeout', 'heartbeatInterval', 'heartbeatTimeout', 'ackTimeout',
  'websocketRetryInterval', 'requestTimeout',
] as const;
const TRANSPORTS = ['websocket', 'sse', 'auto'];

/** The options with their defaults; throws a TypeError for an unknown option or a bad value. */
export function resolveOptions(url: string, options: LiveClientOptions): ResolvedOptions {
  checkKnownOptions(options, KNOWN, 'new LiveClient()');
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as LiveClientOptions;
  const resolved: ResolvedOptions = {
    autoConnect: true, reconnect: true, reconnectDelay: 500, maxReconnectDelay: 30_000,
    maxReconnectAttempts: Infinity, connectTimeout: 10_000, heartbeatInterval: 25_000, heartbeatTimeout: 10_000,
    maxQueuedPublishes: 1000, queueOverflow: 'drop-oldest', ackTimeout: 10_000, maxPublishAttempts: 5,
    random: Math.random, tokenParameter: 'token', storageKey: `livehub:outbox:${url}`,
    transport: 'websocket', fallbackAfter: 2, websocketRetryInterval: 300_000, requestTimeout: 10_000, ...defined,
  };
  for (const key of POSITIVE) {
    if (!(typeof resolved[key] === 'number' && resolved[key] > 0)) throw new TypeError(`livehub: option ${key} must be a positive number of ms, got ${String(resolved[key])}`);
  }
  if (resolved.queueOverflow !== 'drop-oldest' && resolved.queueOverflow !== 'reject') {
    throw new TypeError(`livehub: option queueOverflow must be 'drop-oldest' or 'reject', got ${String(resolved.queueOverflow)}`);
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
