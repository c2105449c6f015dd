import { checkKnownOptions } from '../pkg/options-check.js';
import type { WebSocketConstructor } from './socket.js';

export interface LiveClientOptions {
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
   * Publishes kept until acked (sent or waiting for a connection); beyond it, `queueOverflow` applies.
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

export type ResolvedOptions = Required<Omit<LiveClientOptions, 'WebSocket' | 'getToken' | 'storage'>> &
  Pick<LiveClientOptions, 'WebSocket' | 'getToken' | 'storage'>;

const KNOWN = [
  'WebSocket', 'autoConnect', 'reconnect', 'reconnectDelay', 'maxReconnectDelay', 'maxReconnectAttempts',
  'connectTimeout', 'heartbeatInterval', 'heartbeatTimeout', 'maxQueuedPublishes', 'queueOverflow',
  'ackTimeout', 'maxPublishAttempts', 'storage', 'storageKey', 'getToken', 'tokenParameter', 'random',
] as const satisfies ReadonlyArray<keyof LiveClientOptions>;

const POSITIVE = ['reconnectDelay', 'maxReconnectDelay', 'connectTimeout', 'heartbeatInterval', 'heartbeatTimeout', 'ackTimeout'] as const;

/** The options with their defaults; throws a TypeError for an unknown option or a bad value. */
export function resolveOptions(url: string, options: LiveClientOptions): ResolvedOptions {
  checkKnownOptions(options, KNOWN, 'new LiveClient()');
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as LiveClientOptions;
  const resolved: ResolvedOptions = {
    autoConnect: true, reconnect: true, reconnectDelay: 500, maxReconnectDelay: 30_000,
    maxReconnectAttempts: Infinity, connectTimeout: 10_000, heartbeatInterval: 25_000, heartbeatTimeout: 10_000,
    maxQueuedPublishes: 1000, queueOverflow: 'drop-oldest', ackTimeout: 10_000, maxPublishAttempts: 5,
    random: Math.random, tokenParameter: 'token', storageKey: `livehub:outbox:${url}`, ...defined,
  };
  for (const key of POSITIVE) {
    if (!(typeof resolved[key] === 'number' && resolved[key] > 0)) throw new TypeError(`livehub: option ${key} must be a positive number of ms, got ${String(resolved[key])}`);
  }
  if (resolved.queueOverflow !== 'drop-oldest' && resolved.queueOverflow !== 'reject') {
    throw new TypeError(`livehub: option queueOverflow must be 'drop-oldest' or 'reject', got ${String(resolved.queueOverflow)}`);
  }
  if (resolved.WebSocket !== undefined && typeof resolved.WebSocket !== 'function') {
    throw new TypeError('livehub: option WebSocket must be a WebSocket class (the browser\'s, or `WebSocket` from `ws`)');
  }
  return resolved;
}
