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
 */

/** A position in a channel's stream. */
export interface StreamPosition {
  /** The offset of the last publication (0 before the first). */
  offset: number;
  /** The name of this history; changes when history is lost. */
  epoch: string;
}

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

/** What an engine calls back into the hub. */
export interface EngineHandlers {
  /** A publication of a channel this node subscribes to, in offset order with no gap. */
  deliver(publication: Publication): void;
  /**
   * The channel's stream cannot continue from what this node delivered: its epoch changed (history
   * lost) or publications were missed and are no longer in history. Clients must be told that their
   * position is void; delivery goes on from `position`.
   */
  reset(channel: string, position: StreamPosition): void;
}

/** A member status in a presence channel; `offline` is implied when a user's last connection leaves. */
export type PresenceStatus = 'online' | 'away' | 'busy';

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
   * Rejects (never queues without bound) when the engine cannot reach its store.
   */
  publish(channel: string, type: string, dataJson: string, policy: HistoryPolicy): MaybePromise<StreamPosition>;
  /** This node has a first local subscriber on the channel: start receiving its publications. */
  subscribe(channel: string): MaybePromise<void>;
  /** This node's last local subscriber left: stop receiving the channel's publications. */
  unsubscribe(channel: string): MaybePromise<void>;
  /** Publications after `since` (see the guarantees above), or only the position when `since` is null. */
  history(channel: string, since: StreamPosition | null): MaybePromise<HistoryResult>;
  /** Claims `key` for `ttl` ms; false when it is already claimed (deduplicates retried publishes). */
  claim(key: string, ttl: number): MaybePromise<boolean>;
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

/** Builds a publication's JSON. Channel names and types are validated ASCII without quotes. */
export function encodePublication(channel: string, type: string, dataJson: string, offset: number): string {
  return `{"channel":"${channel}","type":"${type}","data":${dataJson},"offset":${offset}}`;
}
