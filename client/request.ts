import { checkKnownOptions } from '../pkg/options-check.js';
import { BUILT_IN_COMMANDS as BUILT_IN, isValidType, REPLY_TYPES, type RequestId, type ServerReply } from '../pkg/protocol/index.js';
import { LiveError } from './errors.js';

/**
 * The application's own messages: requests answered by the server's handlers (`hub.handle`),
 * fire-and-forget messages, and direct messages the server sends to this connection alone.
 */


export interface RequestOptions {
  /**
   * Ms to wait for the reply once sent.
   * @default the client's requestTimeout (10000)
   */
  timeout?: number;
  /**
   * Made while not connected: wait in the outbox and go out on the next open (in order with
   * publishes) instead of rejecting at once with `not_connected`.
   * @default false
   */
  queue?: boolean;
}

export interface SendOptions {
  /** Made while not connected: wait in the outbox instead of being dropped. @default false */
  queue?: boolean;
}

/** A message the server sent to this connection alone (`kit.send(type, data)`): `{type, data}`, no channel. */
export interface DirectMessage<T = unknown> {
  type: string;
  data: T;
}

export type DirectHandler<T = unknown> = (data: T, message: DirectMessage<T>) => void;

/**
 * The frame of an app message; throws a TypeError for a bad type (a built-in command's name, bad
 * characters), data that JSON cannot carry, or unknown options.
 */
export function appFrame(what: 'request' | 'send', type: unknown, data: unknown, id: RequestId | undefined, options: object, known: readonly string[]): string {
  checkKnownOptions(options, known, `client.${what}()`);
  if (typeof type !== 'string' || !isValidType(type) || type === '*') {
    throw new TypeError(`livehub: client.${what}() needs a message type of 1-255 characters from A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $, got ${JSON.stringify(type)}`);
  }
  if (BUILT_IN.has(type)) throw new TypeError(`livehub: client.${what}(${JSON.stringify(type)}): that is a built-in command; use the client's own method for it`);
  try {
    if (data !== undefined && JSON.stringify(data) === undefined) throw new TypeError(`a ${typeof data} is not JSON`);
    return JSON.stringify(id === undefined ? { type, data: data ?? null } : { type, data: data ?? null, id });
  } catch (error) {
    throw new TypeError(`livehub: client.${what}(${JSON.stringify(type)}): the data cannot be sent as JSON (${(error as Error).message})`);
  }
}

/** The timeout a request waits for, checked. */
export function requestTimeout(options: RequestOptions, fallback: number): number {
  const { timeout = fallback } = options;
  if (!(typeof timeout === 'number' && timeout > 0)) throw new TypeError(`livehub: client.request() timeout must be a positive number of ms, got ${String(timeout)}`);
  return timeout;
}

/** Whether a frame without a channel is a direct message (rather than one of the protocol's replies). */
export function isDirect(frame: { type?: unknown; channel?: unknown }): frame is DirectMessage {
  return typeof frame.type === 'string' && frame.channel === undefined && !REPLY_TYPES.has(frame.type);
}

/**
 * Listening to direct messages by type, the same idiom as every other listener: `on(type, handler)`
 * returns the function that stops it, `off(type, handler)` stops it by reference. `'*'`: every type.
 */
export interface DirectListeners {
  on<T = unknown>(type: string, handler: DirectHandler<T>): () => void;
  off<T = unknown>(type: string, handler: DirectHandler<T>): void;
}

/** Direct-message handlers by type (`'*'`: every type). */
export class DirectHandlers implements DirectListeners {
  private readonly byType = new Map<string, Set<DirectHandler<never>>>();

  /** The listening half alone (`on`, `off`), for `client.direct`: only the client delivers. */
  readonly view: DirectListeners = Object.freeze({
    on: <T>(type: string, handler: DirectHandler<T>) => this.on(type, handler),
    off: <T>(type: string, handler: DirectHandler<T>) => this.off(type, handler),
  });

  on<T>(type: string, handler: DirectHandler<T>): () => void {
    if (typeof type !== 'string' || !(isValidType(type) || type === '*')) throw new TypeError(`livehub: client.direct.on() needs a message type or '*', got ${JSON.stringify(type)}`);
    if (typeof handler !== 'function') throw new TypeError('livehub: client.direct.on() needs a handler function');
    let set = this.byType.get(type);
    if (!set) this.byType.set(type, (set = new Set()));
    set.add(handler as DirectHandler<never>);
    return () => this.off(type, handler);
  }

  off<T>(type: string, handler: DirectHandler<T>): void {
    const set = this.byType.get(type);
    if (!set?.delete(handler as DirectHandler<never>)) return;
    if (set.size === 0) this.byType.delete(type);
  }

  deliver(message: DirectMessage): void {
    for (const key of [message.type, '*']) {
      for (const handler of this.byType.get(key) ?? []) (handler as DirectHandler)(message.data, message);
    }
  }
}

/**
 * Sends a command with an id (`send`) and settles with the reply carrying it: resolved with
 * `read(reply)`, rejected with a LiveError on an error frame or when nothing answers within `timeout` ms.
 */
export function awaitReply<T>(
  listen: (listener: (reply: ServerReply) => void) => () => void,
  id: RequestId, channel: string, timeout: number, read: (reply: ServerReply) => T, send: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // '' names no channel (a command about the connection itself, such as `unread`).
    const about = channel === '' ? undefined : channel;
    const timer = setTimeout(() => { stop(); reject(new LiveError('timeout', 'no answer in time', about)); }, timeout);
    const stop = listen((reply) => {
      if (!('id' in reply) || reply.id !== id) return;
      clearTimeout(timer);
      stop();
      if (reply.type === 'error') reject(new LiveError(reply.code, reply.message, reply.channel ?? about));
      else resolve(read(reply));
    });
    send();
  });
}
