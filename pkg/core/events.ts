import type { Publication } from '../engine/engine.js';

/**
 * Hub events: one typed source of lifecycle events that metrics, logs, health checks and webhooks
 * listen to. It costs nothing when nobody listens: the hub checks `events.listening.<name>` (a plain
 * boolean) before it builds an event, so the hot path pays one property read per turn and channel.
 *
 * Listeners run synchronously inside the hub's loop: keep them short. A listener that throws is
 * reported through the hub's logger and never breaks the loop.
 */

/** What an event says about a connection. */
export interface SessionInfo {
  id: string;
  transport: string;
  userId: string | null;
}

export interface HubEventMap {
  /** The hub's engine has started: the node serves. */
  'node.started': { node: string };
  /** A client message reached the router (before limits and policy decide on it). */
  'message.received': { session: SessionInfo; type: string };
  /** A connection's transport pushed back: its messages wait in livehub's queue until it drains. */
  backpressure: { session: SessionInfo; bufferedBytes: number };
  /** A connection joined the hub (after authentication). */
  'connection.opened': { session: SessionInfo };
  /** A connection left the hub, with the close code and reason when known. */
  'connection.closed': { session: SessionInfo; code?: number; reason?: string };
  /** A subscribe was answered; `recovered` when it asked to resume. */
  subscribed: { session: SessionInfo; channel: string; recovered?: boolean };
  unsubscribed: { session: SessionInfo; channel: string };
  /** A publication got its position (on this node: from `hub.publish` or a client of this node). */
  'message.published': { channel: string; type: string; offset: number; epoch: string; from?: { user?: string; client: string } };
  /** A turn's messages of a channel were queued for this node's subscribers. */
  'message.delivered': {
    channel: string; messages: number; sessions: number;
    /** When each message was published (ms since the epoch), for the messages that carry it. */
    publishedAt?: number[];
    /** The W3C traceparent of each message's publish span, where one was sampled. */
    traceparents?: Array<string | undefined>;
  };
  /** A user's first connection joined a presence channel (on any node; reported by the node that saw it). */
  'presence.joined': { channel: string; userId: string };
  /** A user's last connection left a presence channel. */
  'presence.left': { channel: string; userId: string };
  /** A slow consumer was closed with 4001. */
  evicted: { session: SessionInfo; reason: string };
  /** A channel's stream broke (`reset`): its subscribers were told their position is void. */
  reset: { channel: string; offset: number; epoch: string };
  /** The engine lost its store (Redis unreachable, frozen): publishes fail with `unavailable` meanwhile. */
  'engine.down': { code: string; message: string };
  /** The engine reaches its store again. */
  'engine.up': Record<string, never>;
  /** `hub.drain()` began: no new connections; clients are moved elsewhere. */
  'node.draining': { connections: number };
  /** Something failed (`code` as in the logs). */
  error: { code: string; message: string; error?: unknown };
}

export type HubEventName = keyof HubEventMap;
export type HubEventListener<K extends HubEventName> = (event: HubEventMap[K]) => void;

export class HubEvents {
  /** Whether anything listens to each event; read on the hot path instead of the listener lists. */
  readonly listening: Record<HubEventName, boolean> = {
    'node.started': false, 'message.received': false, backpressure: false,
    'connection.opened': false, 'connection.closed': false, subscribed: false, unsubscribed: false,
    'message.published': false, 'message.delivered': false, evicted: false, reset: false, error: false,
    'presence.joined': false, 'presence.left': false, 'engine.down': false, 'engine.up': false, 'node.draining': false,
  };
  private readonly listeners = new Map<HubEventName, Array<(event: never) => void>>();
  /** `onEvent` listeners: every event, with its name. */
  private readonly every: Array<(name: HubEventName, event: unknown) => void> = [];

  /** Listens to every event (`(name, event) => …`); returns the function that stops listening. */
  onEvent(listener: (name: HubEventName, event: HubEventMap[HubEventName]) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('livehub: an event listener must be a function');
    this.every.push(listener as (name: HubEventName, event: unknown) => void);
    for (const name of Object.keys(this.listening) as HubEventName[]) this.listening[name] = true;
    return () => {
      const at = this.every.indexOf(listener as (name: HubEventName, event: unknown) => void);
      if (at >= 0) this.every.splice(at, 1);
      if (this.every.length === 0) for (const name of Object.keys(this.listening) as HubEventName[]) this.listening[name] = this.listeners.has(name);
    };
  }

  constructor(private readonly onListenerError: (error: unknown, name: HubEventName) => void) {}

  /** Listens to an event; returns the function that stops listening. */
  on<K extends HubEventName>(name: K, listener: HubEventListener<K>): () => void {
    if (!(name in this.listening)) throw new TypeError(`livehub: unknown hub event ${JSON.stringify(name)}; known: ${Object.keys(this.listening).join(', ')}`);
    if (typeof listener !== 'function') throw new TypeError('livehub: an event listener must be a function');
    const list = this.listeners.get(name) ?? [];
    list.push(listener as (event: never) => void);
    this.listeners.set(name, list);
    this.listening[name] = true;
    return () => this.off(name, listener);
  }

  off<K extends HubEventName>(name: K, listener: HubEventListener<K>): void {
    const list = this.listeners.get(name);
    if (!list) return;
    const at = list.indexOf(listener as (event: never) => void);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) {
      this.listeners.delete(name);
      this.listening[name] = this.every.length > 0;
    }
  }

  /** Calls the event's listeners. Check `listening[name]` first when building the event costs. */
  emit<K extends HubEventName>(name: K, event: HubEventMap[K]): void {
    for (const listener of this.every) {
      try {
        listener(name, event);
      } catch (error) {
        if (name !== 'error') this.onListenerError(error, name);
      }
    }
    const list = this.listeners.get(name);
    if (!list) return;
    for (const listener of list.length === 1 ? list : [...list]) {
      try {
        (listener as HubEventListener<K>)(event);
      } catch (error) {
        if (name !== 'error') this.onListenerError(error, name);
      }
    }
  }
}

/** The `message.delivered` event of a channel's batch, with the publish times and traceparents it carries. */
export function deliveredEvent(channel: string, publications: readonly Publication[], sessions: number): HubEventMap['message.delivered'] {
  const publishedAt: number[] = [];
  const traceparents: Array<string | undefined> = [];
  for (const { trace } of publications) {
    if (trace) { publishedAt.push(trace.ts); traceparents.push(trace.tp); }
  }
  return { channel, messages: publications.length, sessions, publishedAt, traceparents };
}

/** The event view of a session. */
export function sessionInfo(session: { id: string; transport: { name: string }; identity: { userId: string } | null }): SessionInfo {
  return { id: session.id, transport: session.transport.name, userId: session.identity?.userId ?? null };
}
