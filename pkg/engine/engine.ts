/**
 * The engine: where publications get their stream positions, where history is kept, and how they
 * reach every node. The hub publishes through it and fans out what it delivers, so one node with
 * the in-memory engine and many nodes sharing Redis run the same hub code.
 *
 * Guarantees an engine must give:
 * - Offsets of a channel strictly increase by one per publication, within an epoch.
 * - An epoch names one continuous history of a channel. When that history is lost (a restart of a
 *   memory engine, a Redis flush, a channel state dropped after idling) the epoch changes, so a
 *   client holding an old position is told `recovered: false` instead of being replayed a wrong range.
 * - `history(channel, since)` returns either exactly the publications after `since`, oldest first
 *   (`recovered: true`), or none (`recovered: false`); never a partial range.
 * - The delivery handler sees a channel's publications in offset order.
 * - Every call settles within a bound: an engine that cannot reach its store rejects with an Error
 *   whose `code` is `'unavailable'` and whose message names the store (host:port), the cause and the
 *   fix, and it reports connection losses, timeouts, resets and repairs through `EngineHandlers.log`.
 * - An idempotent publish (`PublishOptions.idempotencyKey`) claims its key in the same atomic step
 *   as the publish: one that failed claims nothing.
 */

import type { PresenceStatus, StreamPosition } from '../protocol/index.js';
export type { PresenceStatus, StreamPosition };

/** One publication, as engines store and deliver it. */
export interface Publication {
  channel: string;
  offset: number;
  /** The hub message as JSON text: `{"channel":C,"type":T,"data":D,"offset":N}`. */
  payload: string;
}

/** How much history a channel keeps. */
export interface HistoryPolicy {
  /** Publications kept at most; 0 keeps none (positions still advance). */
  size: number;
  /** Milliseconds a publication is kept. */
  ttl: number;
}

export interface HistoryResult {
  /** The channel's current position. */
  position: StreamPosition;
  /** With `recovered`, the publications after `since`, oldest first; otherwise empty. */
  publications: Publication[];
  /** Whether `publications` are exactly those after `since`. False without `since`. */
  recovered: boolean;
}

export type MaybePromise<T> = T | Promise<T>;

/** Who published a client's message, as the server stamped it (receivers can trust it). */
export interface Publisher {
  /** The publisher's user id, when it was authenticated. */
  user?: string;
  /** The publishing connection's id. */
  client: string;
  /** `false`: the publishing connection does not get it (except-self); subscribers see it too. */
  echo?: false;
}

/** Options of one publish. */
export interface PublishOptions {
  /**
   * Idempotency: the publish claims this key for `idempotencyTtl` ms in the same atomic step as the
   * publish itself. A publish whose key is already claimed publishes nothing and resolves with the
   * first publish's position and `duplicate: true`. A publish that fails claims nothing, so a retry
   * with the same key publishes (at-least-once is kept).
   */
  idempotencyKey?: string;
  /** Milliseconds the idempotency key is remembered. Required with `idempotencyKey`. */
  idempotencyTtl?: number;
  /** Stamped into the publication's JSON as `"from":{"user":U,"client":C}`. */
  from?: Publisher;
  /** Publication tags, `"tags":{…}` in the JSON: what subscribers' filters match (string values). */
  tags?: Record<string, string>;
  /**
   * When it was published (ms since the epoch) and its publish span's W3C traceparent: `"trace":{…}`
   * in the JSON, so every node can measure publish-to-delivery and link its delivery span.
   */
  trace?: { ts: number; tp?: string };
}

/** Where a publish landed. */
export interface PublishResult extends StreamPosition {
  /** True when the idempotency key was already claimed: nothing was published this time. */
  duplicate?: boolean;
}

/** What an engine calls back into the hub. */
export interface EngineHandlers {
  /**
   * Reports what the engine cannot hand to a caller (a lost connection, a failed repair), naming
   * the cause and the fix (which host, what error, which option). Rate-limited by the hub.
   */
  log?: (level: 'warn' | 'error' | 'info', cause: string, context: { code: string; err?: unknown; [key: string]: unknown }, message: string) => void;
  /** A publication of a channel this node subscribes to, in offset order with no gap. */
  deliver(publication: Publication): void;
  /**
   * The channel's stream cannot continue from what this node delivered: its epoch changed (history
   * lost) or publications were missed and are no longer in history. Clients must be told that their
   * position is void; delivery goes on from `position`.
   */
  reset(channel: string, position: StreamPosition): void;
}


/** One connection in a presence channel. */
export interface PresenceEntry {
  clientId: string;
  userId: string;
  status: PresenceStatus;
  /** Per-connection information the app attached (a display name, a device). */
  info?: unknown;
}

export interface Engine {
  /** Starts delivering publications of the channels this node subscribes to. Called once by the hub. */
  start(handlers: EngineHandlers): MaybePromise<void>;
  /**
   * Assigns the next offset, keeps the publication in history as `policy` says, and delivers it to
   * every node subscribed to the channel, as one atomic step. `dataJson` is the data, already JSON.
   * Rejects (never queues without bound, never waits past the engine's command deadline) when the
   * engine cannot reach its store. See `PublishOptions` for idempotency and the publisher stamp.
   */
  publish(channel: string, type: string, dataJson: string, policy: HistoryPolicy, options?: PublishOptions): MaybePromise<PublishResult>;
  /** This node has a first local subscriber on the channel: start receiving its publications. */
  subscribe(channel: string): MaybePromise<void>;
  /** This node's last local subscriber left: stop receiving the channel's publications. */
  unsubscribe(channel: string): MaybePromise<void>;
  /** Publications after `since` (see the guarantees above), or only the position when `since` is null. */
  history(channel: string, since: StreamPosition | null): MaybePromise<HistoryResult>;
  /**
   * Adds or refreshes a connection in a channel's presence for `ttl` ms. True when it is the user's
   * first live connection there (the user joined).
   */
  addPresence(channel: string, entry: PresenceEntry, ttl: number): MaybePromise<boolean>;
  /** Removes a connection; true when the user has no live connection left there (the user left). */
  removePresence(channel: string, clientId: string, userId: string): MaybePromise<boolean>;
  /** The live connections of a channel's presence. */
  presence(channel: string): MaybePromise<PresenceEntry[]>;
  /**
   * Removes expired connections (their node died) and returns the users left with none. Atomic: of
   * several nodes sweeping, one gets each user.
   */
  sweepPresence(channel: string): MaybePromise<string[]>;
  /** Releases connections and timers. */
  close(): MaybePromise<void>;
}

/** The `from` field's JSON (`,"from":{…}`), or '' without a publisher. */
export function encodeFrom(from: Publisher | undefined): string {
  if (!from) return '';
  const user = from.user === undefined ? '' : `"user":${JSON.stringify(from.user)},`;
  return `,"from":{${user}"client":${JSON.stringify(from.client)}${from.echo === false ? NO_ECHO : '}'}`;
}

/** What follows `"offset":N` in a publication's JSON: its tags, then its publisher (always last). */
export function encodeTail(options: PublishOptions = {}): string {
  const { tags, from, trace } = options;
  return (tags && Object.keys(tags).length > 0 ? `,"tags":${JSON.stringify(tags)}` : '') +
    (trace ? `,"trace":{"ts":${Math.floor(trace.ts)}${trace.tp ? `,"tp":${JSON.stringify(trace.tp)}` : ''}}` : '') + encodeFrom(from);
}

/** A publication's trace stamp (see `PublishOptions.trace`), or null. Looked for only when someone measures. */
export function traceOf(payload: string): { ts: number; tp?: string } | null {
  const at = payload.lastIndexOf(',"trace":{"ts":');
  if (at < 0) return null;
  const end = payload.indexOf('}', at);
  try {
    return JSON.parse(payload.slice(at + 9, end + 1)) as { ts: number; tp?: string };
  } catch {
    return null;
  }
}

/** How a payload that its publisher must not get ends: `…,"echo":false}}` (`from` is always last). */
export const NO_ECHO = ',"echo":false}';
const NO_ECHO_END = `${NO_ECHO}}`;

/**
 * The connection a payload must not go to (except-self), or null. Cheap for every other payload: one
 * `endsWith`.
 */
export function exceptedClient(payload: string): string | null {
  if (payload.charCodeAt(payload.length - 2) !== 125 /* } */ || !payload.endsWith(NO_ECHO_END)) return null;
  const at = payload.lastIndexOf(',"from":{');
  const start = payload.indexOf('"client":"', at) + 10;
  return payload.slice(start, payload.indexOf('"', start));
}

/** Builds a publication's JSON. Channel names and types are validated ASCII without quotes. */
export function encodePublication(channel: string, type: string, dataJson: string, offset: number, from = ''): string {
  return `{"channel":"${channel}","type":"${type}","data":${dataJson},"offset":${offset}${from}}`;
}
