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
 *   whose `code` is `'unavailable'` (nothing was done) or, for a publish sent to the store that got
 *   no answer, `'outcome_unknown'` (it may have been applied; a retry with the same idempotency key
 *   settles it), and whose message names the store (host:port), the cause and the fix, and it reports connection losses, timeouts, resets and repairs through `EngineHandlers.log`.
 * - An idempotent publish (`PublishOptions.idempotencyKey`) claims its key in the same atomic step
 *   as the publish: one that failed claims nothing.
 * - A publication comes back (delivered, or from history) with the fields it was published with:
 *   its type, its data text unchanged, its tags, publisher and trace stamp.
 * - Node messages (`send`) reach the node they name, or every node, and nothing else, in the order
 *   one node sent them: they are neither stored nor delivered as publications.
 *
 * - Acknowledgements (optional: `acknowledge` and `acknowledged`, both or neither): one position per
 *   user and channel, shared by every node and connection; it never moves back, never passes the
 *   channel's head, and belongs to one epoch (an acknowledgement of a lost history counts as none).
 *
 * `engineConformance` (conformance.ts) checks these against any engine.
 */

import type { PresenceStatus, StreamPosition } from '../protocol/index.js';
export type { PresenceStatus, StreamPosition };

/**
 * One publication, as engines store and deliver it: values, not a wire layout. The hub turns it into
 * the JSON its clients get (`{"channel":C,"type":T,"data":D,"offset":N,…}`), once per publication, so
 * an engine only keeps and returns what `publish` was given, with the position it assigned. Other
 * properties an engine keeps on the object (an expiry time) are its own: the hub reads none.
 */
export interface Publication {
  channel: string;
  /** Its position in the channel's stream: one more than the publication before it, in `epoch`. */
  offset: number;
  /** The stream's epoch when it was published (see the guarantees above). */
  epoch: string;
  /** The message type, a validated name (no spaces, no quotes). */
  type: string;
  /** The data as JSON text, exactly as `publish` was given it. */
  data: string;
  /** `PublishOptions.tags`, as given (absent or empty: none). */
  tags?: Record<string, string>;
  /** `PublishOptions.from`: who published it; `echo: false` keeps it from that connection (except-self). */
  from?: Publisher;
  /** `PublishOptions.trace`: when it was published, and its publish span's traceparent. */
  trace?: PublishTrace;
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
  /** Who published it, kept as the publication's `from`. */
  from?: Publisher;
  /** Publication tags, kept as the publication's `tags`: what subscribers' filters match (string values). */
  tags?: Record<string, string>;
  /**
   * When it was published and its publish span's traceparent, so every node can measure
   * publish-to-delivery and link its delivery span.
   */
  trace?: PublishTrace;
}

/** A publication's trace stamp. */
export interface PublishTrace {
  /** When it was published, in whole ms since the epoch. */
  ts: number;
  /** The W3C traceparent of its publish span, when one was sampled. */
  tp?: string;
}

/** Where a publish landed. */
export interface PublishResult extends StreamPosition {
  /** True when the idempotency key was already claimed: nothing was published this time. */
  duplicate?: boolean;
}

/** What an engine calls back into the hub. */
export interface EngineHandlers {
  /** This node's id, unique among the nodes sharing the engine: `Engine.send` addresses nodes by it. */
  node: string;
  /**
   * A node message (`Engine.send`) for this node or for every node. Called from the engine's
   * network callbacks: the hub never throws from it.
   */
  message(message: string): void;
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
   * engine cannot reach its store: `code: 'unavailable'` when nothing was published,
   * `'outcome_unknown'` when the store may have applied it. See `PublishOptions` for idempotency and the publisher stamp.
   */
  publish(channel: string, type: string, dataJson: string, policy: HistoryPolicy, options?: PublishOptions): MaybePromise<PublishResult>;
  /** This node has a first local subscriber on the channel: start receiving its publications. */
  subscribe(channel: string): MaybePromise<void>;
  /** This node's last local subscriber left: stop receiving the channel's publications. */
  unsubscribe(channel: string): MaybePromise<void>;
  /**
   * Pattern delivery (optional: a hub on an engine without it answers pattern subscribes
   * `unavailable`). This node has a first local subscription to `pattern`, an MQTT topic filter over
   * the channel <-> topic mapping (`matchesPattern` in livehub's protocol module says which channels
   * it matches). Once this resolves, every publication of a channel the pattern matches reaches the
   * delivery handler, live, in offset order per channel. It may deliver other channels' too (the hub
   * matches exactly and drops them). Each publication is delivered once, however many of the node's
   * patterns and channel subscriptions cover it. A channel delivered by pattern alone has no gap
   * repair and no `reset`: patterns are live delivery only.
   */
  subscribePattern?(pattern: string): MaybePromise<void>;
  /** This node's last local subscriber of the pattern left: stop delivering what only it covered. */
  unsubscribePattern?(pattern: string): MaybePromise<void>;
  /** Optional: small records every node sharing the engine reads, each until its expiry (MQTT persistent sessions). */
  readonly records?: EngineRecords;
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
  /**
   * Sends a node message to the node whose id is `node` (its `EngineHandlers.node`), or to every
   * node sharing the engine, this one included, when `node` is null. Never stored, never delivered
   * as a publication; at most once, to the nodes running at the time (a node that is not there
   * misses it). Resolves once the message is out: true when a node of that id (with null: any node)
   * was there to get it, false when none was, so a message for a node that does not exist is
   * answered rather than lost in silence. Rejects (`code: 'unavailable'`) when the engine cannot
   * reach its store.
   */
  send(node: string | null, message: string): MaybePromise<boolean>;
  /** Releases connections and timers. */
  close(): MaybePromise<void>;
  /**
   * Optional (with `acknowledged`): records that `user` has handled `channel` up to `position`, as
   * one atomic step on the shared store, and answers where the channel and the acknowledgement stand.
   * Refused (nothing stored; `refused` says why) when `position.epoch` is not the channel's epoch or
   * `position.offset` is past its head. A position at or below the stored one changes nothing
   * (`moved: false`): acknowledgements never move back. See acknowledgements.ts.
   */
  acknowledge?(user: string, channel: string, position: StreamPosition): MaybePromise<Acknowledgement>;
  /** Optional (with `acknowledge`): where `user`'s acknowledgement of `channel` and the channel's head stand. */
  acknowledged?(user: string, channel: string): MaybePromise<AcknowledgedState>;
}

/**
 * Small records kept for every node sharing the engine, each until it expires: what a device's
 * persistent MQTT session holds while the device is away, so that it resumes on any node.
 */
export interface EngineRecords {
  /** Stores `value` under `key` for `ttl` ms, replacing what was there. */
  put(key: string, value: string, ttl: number): MaybePromise<void>;
  /** Reads and removes the record in one atomic step (of two nodes taking it, one gets it); null when there is none or it expired. */
  take(key: string): MaybePromise<string | null>;
  /** Removes the record, if any. */
  delete(key: string): MaybePromise<void>;
}

export type { AcknowledgedState, Acknowledgement } from './acknowledgements.js';
import type { AcknowledgedState, Acknowledgement } from './acknowledgements.js';
