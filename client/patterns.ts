import { matchesPattern, patternError, type HubMessage } from '../pkg/protocol/index.js';
import { LiveError } from './errors.js';
import type { MessageHandler } from './events.js';

/** What the client's pattern subscriptions need of the connection. */
export interface PatternHost {
  isOpen(): boolean;
  send(command: object): void;
  nextId(): string;
  /** A pattern subscribe the server refused (the subscription is dropped unless the server was unavailable). */
  refused(error: LiveError): void;
}

/** Codes after which subscribing again to the pattern on a later connection may succeed. */
const RETRIED = new Set(['unavailable', 'timeout', 'rate_limited']);

/**
 * The client's pattern subscriptions (`client.onPattern`): each pattern is subscribed while it has a
 * handler, again on every (re)connect, and each message whose channel it matches goes to its
 * handlers with its channel in `message.channel`. Live only: what was published while disconnected
 * is not replayed (subscribe to channels by name for that).
 */
export class ClientPatterns {
  private readonly handlers = new Map<string, Set<MessageHandler<never>>>();
  /** Subscribes waiting for their answer, by request id. */
  private readonly asking = new Map<string, string>();

  constructor(private readonly host: PatternHost) {}

  on<T>(pattern: string, handler: MessageHandler<T>): () => void {
    const invalid = patternError(pattern);
    if (invalid !== null) throw new TypeError(`livehub: ${JSON.stringify(pattern)} is not a pattern: ${invalid}`);
    if (typeof handler !== 'function') throw new TypeError('livehub: onPattern needs a handler function');
    let set = this.handlers.get(pattern);
    if (!set) {
      this.handlers.set(pattern, (set = new Set()));
      if (this.host.isOpen()) this.subscribe(pattern);
    }
    set.add(handler as MessageHandler<never>);
    return () => this.off(pattern, handler);
  }

  off<T>(pattern: string, handler: MessageHandler<T>): void {
    const set = this.handlers.get(pattern);
    if (!set?.delete(handler as MessageHandler<never>) || set.size > 0) return;
    this.handlers.delete(pattern);
    if (this.host.isOpen()) this.host.send({ type: 'unsubscribe', pattern, id: this.host.nextId() });
  }

  /** The patterns with handlers. */
  patterns(): string[] {
    return [...this.handlers.keys()];
  }

  /** A connection opened: every pattern is subscribed (again). */
  opened(): void {
    this.asking.clear();
    for (const pattern of this.handlers.keys()) this.subscribe(pattern);
  }

  /** Hands a message to the handlers of the patterns matching its channel, each handler once. */
  deliver(message: HubMessage): void {
    if (this.handlers.size === 0) return;
    const called = new Set<MessageHandler<never>>();
    for (const [pattern, set] of this.handlers) {
      if (!matchesPattern(pattern, message.channel)) continue;
      for (const handler of set) {
        if (called.has(handler)) continue;
        called.add(handler);
        (handler as MessageHandler)(message.data, message);
      }
    }
  }

  /** An answer naming a pattern (`subscribed`, `unsubscribed`, `error`): true when it was one. */
  reply(reply: { type?: unknown; pattern?: unknown; id?: unknown; code?: unknown; message?: unknown }): boolean {
    if (typeof reply.pattern !== 'string') return false;
    const pattern = reply.pattern;
    if (typeof reply.id === 'string') this.asking.delete(reply.id);
    if (reply.type === 'error' && reply.code !== 'already_subscribed') {
      const error = new LiveError(String(reply.code), `pattern ${pattern}: ${String(reply.message)}`);
      if (!RETRIED.has(String(reply.code))) this.handlers.delete(pattern);
      this.host.refused(error);
    }
    return true;
  }

  private subscribe(pattern: string): void {
    const id = this.host.nextId();
    this.asking.set(id, pattern);
    this.host.send({ type: 'subscribe', pattern, id });
  }
}
