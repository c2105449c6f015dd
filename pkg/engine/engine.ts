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

export interface Engine {
  /** Starts delivering publications of the channels this node subscribes to. Called once by the hub. */
  start(deliver: (publication: Publication) => void): MaybePromise<void>;
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
  /** Releases connections and timers. */
  close(): MaybePromise<void>;
}

/** Builds a publication's JSON. Channel names and types are validated ASCII without quotes. */
export function encodePublication(channel: string, type: string, dataJson: string, offset: number): string {
  return `{"channel":"${channel}","type":"${type}","data":${dataJson},"offset":${offset}}`;
}
