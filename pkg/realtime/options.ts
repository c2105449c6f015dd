import type { IncomingMessage } from 'node:http';
import type { FrameCodec } from './codec.js';

/** What a publish policy is asked about. */
export interface PublishRequest {
  /** The connection's id. */
  clientId: string;
  channel: string;
  event: string;
  data: unknown;
  /** The upgrade request the connection came in with (headers, cookies, remote address). */
  request: IncomingMessage;
}

/** Options of `new Hub(options)`. Every field is optional. */
export interface HubOptions {
  /**
   * Messages a client may have waiting for its socket before it is evicted as a slow consumer
   * (close 4001). As the Go hub's 256-message client buffer.
   * @default 256
   */
  sendBuffer?: number;
  /**
   * Bytes a client may have waiting (in livehub's queue plus the socket's own buffer) before it is
   * evicted as a slow consumer (close 4001).
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
   * Milliseconds a peer may stay silent (no pong, no message) before it is terminated.
   * @default 60000
   */
  pongWait?: number;
  /**
   * Milliseconds between pings. Must be less than `pongWait`.
   * @default pongWait * 9 / 10
   */
  pingPeriod?: number;
  /**
   * Milliseconds a blocked write may take (the socket not draining) before the client is evicted.
   * @default 10000
   */
  writeWait?: number;
  /**
   * Largest inbound message in bytes; a larger one closes the connection with 1009.
   * @default 65536
   */
  maxMessageSize?: number;
  /**
   * Origins allowed to connect, as full origins (`"https://app.example"`), or a function deciding.
   * Requests with no `Origin` header (non-browser clients) are allowed. A refused origin gets HTTP 403.
   * @default same origin only: the Origin's host must equal the request's Host
   */
  origins?: readonly string[] | ((origin: string, request: IncomingMessage) => boolean);
  /**
   * Decides whether a client may publish. May be async; a thrown error denies.
   * @default every client publish is denied with an error frame `forbidden`
   */
  canPublish?: (request: PublishRequest) => boolean | Promise<boolean>;
  /**
   * Frame encoder for the fan-out: `'js'`, `'wasm'` or a codec object.
   * @default 'js'
   */
  codec?: 'js' | 'wasm' | FrameCodec;
  /**
   * Called with errors livehub cannot hand to anyone else (a failing policy, a socket error).
   * livehub never logs by itself.
   * @default ignore
   */
  onError?: (error: Error) => void;
}

export interface ResolvedHubOptions {
  sendBuffer: number;
  maxBufferedBytes: number;
  highWaterMark: number;
  pongWait: number;
  pingPeriod: number;
  writeWait: number;
  maxMessageSize: number;
  origins: HubOptions['origins'];
  canPublish: NonNullable<HubOptions['canPublish']> | null;
  codec: NonNullable<HubOptions['codec']>;
  onError: (error: Error) => void;
}

/** Defaults, as documented above and in the README. */
export const DEFAULTS = {
  sendBuffer: 256,
  maxBufferedBytes: 4 * 1024 * 1024,
  highWaterMark: 256 * 1024,
  pongWait: 60_000,
  writeWait: 10_000,
  maxMessageSize: 64 * 1024,
} as const;

/** The ping period the Go hub derives from the pong wait: 9/10 of it. */
export function derivePingPeriod(pongWait: number): number {
  return Math.floor((pongWait * 9) / 10);
}

function positiveInteger(options: HubOptions, key: keyof typeof DEFAULTS | 'pingPeriod', fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new TypeError(`livehub: option ${key} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** Validates options at once: a bad option throws a TypeError from the constructor. */
export function resolveOptions(options: HubOptions = {}): ResolvedHubOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('livehub: options must be an object');
  }
  const pongWait = positiveInteger(options, 'pongWait', DEFAULTS.pongWait);
  const pingPeriod = positiveInteger(options, 'pingPeriod', derivePingPeriod(pongWait));
  if (pingPeriod >= pongWait) {
    throw new TypeError(`livehub: pingPeriod (${pingPeriod}) must be less than pongWait (${pongWait})`);
  }
  const { origins, canPublish, codec = 'js', onError } = options;
  if (origins !== undefined && typeof origins !== 'function' &&
      !(Array.isArray(origins) && origins.every((o) => typeof o === 'string'))) {
    throw new TypeError('livehub: option origins must be an array of origin strings or a function');
  }
  if (canPublish !== undefined && typeof canPublish !== 'function') {
    throw new TypeError('livehub: option canPublish must be a function');
  }
  if (codec !== 'js' && codec !== 'wasm' && (typeof codec !== 'object' || typeof codec.encodeBatch !== 'function')) {
    throw new TypeError("livehub: option codec must be 'js', 'wasm' or a FrameCodec");
  }
  if (onError !== undefined && typeof onError !== 'function') {
    throw new TypeError('livehub: option onError must be a function');
  }
  return {
    sendBuffer: positiveInteger(options, 'sendBuffer', DEFAULTS.sendBuffer),
    maxBufferedBytes: positiveInteger(options, 'maxBufferedBytes', DEFAULTS.maxBufferedBytes),
    highWaterMark: positiveInteger(options, 'highWaterMark', DEFAULTS.highWaterMark),
    pongWait,
    pingPeriod,
    writeWait: positiveInteger(options, 'writeWait', DEFAULTS.writeWait),
    maxMessageSize: positiveInteger(options, 'maxMessageSize', DEFAULTS.maxMessageSize),
    origins,
    canPublish: canPublish ?? null,
    codec,
    onError: onError ?? (() => {}),
  };
}
