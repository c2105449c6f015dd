import type { PublishResult } from '../engine/engine.js';
import type { RequestId } from '../protocol/index.js';
import type { Identity } from './auth.js';
import type { RequestInfo } from './policy.js';

/**
 * Server-side handlers and middleware, in the manner of Socket.IO's `socket.on` with acks and
 * Koa's middleware: `hub.handle(type, handler)` answers the application's own message types from any
 * transport; `hub.use(mw)` and `hub.use(type, mw)` run before handlers and before the built-in
 * commands (`subscribe`, `publish`, …), whose channel policy (`authorize`) is the chain's last link.
 */

/** An inbound message as the chain sees it: the parsed command (built-in) or `{type, data, id}`. */
export interface InboundMessage {
  readonly type: string;
  readonly id?: RequestId;
  /**
   * The message's data. A middleware may set it, and what it leaves is what the rest see: for a
   * publish, what is published (a server-made id, a stamp, a cleaned-up body). The size limits apply
   * to what the client sent, not to what the middleware sets.
   */
  data?: unknown;
  /** For built-in commands about a channel. */
  readonly channel?: string;
  /** For a pattern subscribe or unsubscribe (`sensors/+/temp`), instead of `channel`. */
  readonly pattern?: string;
  readonly [key: string]: unknown;
}

/** The connection a message came from. `state` is the middleware's to enrich. */
export interface MessageContext {
  /** The connection's id (what `exceptSelf` and `sendTo` name). */
  readonly id: string;
  readonly identity: Identity | null;
  readonly userId: string | null;
  /** The channels (and rooms) the connection is in. */
  readonly channels: ReadonlySet<string>;
  /** `websocket` or `sse`. */
  readonly transport: string;
  readonly request: RequestInfo;
  /** Free for middleware to pass facts to handlers (a loaded user, a tenant). */
  state: Record<string, unknown>;
}

export interface PublishFromHandler {
  /** Everyone subscribed gets it but this connection (Phoenix's `broadcast_from`, Socket.IO's `socket.to`). */
  exceptSelf?: boolean;
}

/** What a handler can do. */
export interface Toolkit {
  /** Answers the request (its `id`) with `data`; at most once. Returning a value does the same. */
  reply(data?: unknown): void;
  /** Answers with an error frame `{code, message}`; at most once. */
  fail(code: string, message?: string): void;
  /** Puts this connection in a room (a channel it then receives, without a subscribe of its own). */
  join(room: string): Promise<void>;
  leave(room: string): Promise<void>;
  /** Publishes to a channel or room, through the engine (every node), optionally except this connection. */
  publish(channel: string, type: string, data?: unknown, options?: PublishFromHandler): Promise<PublishResult>;
  /** Sends a message to this connection only (`{type, data}`, no channel). */
  send(type: string, data?: unknown): void;
  /** Sends to every connection of a user, on every node. */
  sendToUser(userId: string, type: string, data?: unknown): Promise<PublishResult>;
  /** @deprecated Use `publish('*', type, data)`: every connection of every node. */
  broadcast(type: string, data?: unknown): Promise<PublishResult>;
}

export type Handler = (message: InboundMessage, context: MessageContext, kit: Toolkit) => unknown;
export type Middleware = (message: InboundMessage, context: MessageContext, next: () => Promise<void>) => unknown;

/** An error a handler or middleware throws to answer with a code (`err.code`) rather than `internal`. */
export class HandlerError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'HandlerError';
  }
}

/** Codes an app may answer with: lower-case words joined by `_`, as livehub's own. */
export const APP_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/** The handlers and middleware of a hub. Maps, so `__proto__` and friends are plain names. */
export class HandlerTable {
  readonly handlers = new Map<string, Handler>();
  readonly global: Middleware[] = [];
  readonly byType = new Map<string, Middleware[]>();

  get hasMiddleware(): boolean {
    return this.global.length > 0 || this.byType.size > 0;
  }

  /** The middleware that applies to `type`, in registration order (global first). */
  chainFor(type: string): Middleware[] {
    const typed = this.byType.get(type);
    return typed ? [...this.global, ...typed] : this.global;
  }
}

/**
 * Runs `chain` Koa-style, then `last`: each middleware gets `next`, which runs the rest; one that
 * returns without calling `next` stops the message there. `next` called twice is an error.
 */
export async function runChain(chain: readonly Middleware[], message: InboundMessage, context: MessageContext, last: () => Promise<void> | void): Promise<void> {
  let reached = -1;
  const step = async (index: number): Promise<void> => {
    if (index <= reached) throw new Error('livehub: next() called twice by one middleware');
    reached = index;
    if (index === chain.length) return last();
    await chain[index]!(message, context, () => step(index + 1));
  };
  await step(0);
}
