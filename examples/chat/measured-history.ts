import type { Engine, EngineHandlers, HistoryPolicy, PresenceEntry, PublishOptions, PublishResult, StreamPosition } from 'livehub/engine';

/**
 * History sized from what a channel actually carries. The hub's `history` option gives each channel a
 * fixed size; a chat sized for an assumed rate gets gaps again as soon as it is busier than assumed.
 * This engine wrapper keeps, on each publish, every message of the last `window` ms instead: it counts
 * them from the channel's offsets, which every node's publishes advance, so the count is the cluster's
 * and not this node's. Until a node has watched a channel for a whole window it cannot know what
 * others published before, so it keeps up to `cap`; after that the size is never below `floor` and
 * never above `cap` (memory): past the cap, a page away for the whole window may get a gap, and
 * `onCapped` says so.
 */

export interface MeasuredHistoryOptions {
  /** Which channels are sized this way; others keep the hub's policy. */
  match: (channel: string) => boolean;
  /** Milliseconds of messages kept: the longest a page may be away and still recover. */
  window: number;
  /** Fewest messages kept. */
  floor: number;
  /** Most messages kept. */
  cap: number;
  /** Called (at most once a minute per channel) while the window holds more messages than `cap`. */
  onCapped?: (channel: string, wanted: number, cap: number) => void;
  /** Milliseconds since the epoch. @default Date.now */
  clock?: () => number;
}

/** Samples of a channel's offset, at most one a second, over the last window. */
interface Meter {
  epoch: string;
  /** `[time, offset]`, oldest first. */
  samples: Array<[number, number]>;
  last: number;
  size: number;
  cappedAt: number;
}

const SAMPLE_EVERY = 1000;
const CAPPED_LOG_EVERY = 60_000;

export class MeasuredHistory implements Engine {
  private readonly meters = new Map<string, Meter>();

  constructor(readonly inner: Engine, private readonly options: MeasuredHistoryOptions) {
    const { window, floor, cap } = options;
    if (!(window > 0) || !Number.isInteger(floor) || floor < 1 || !Number.isInteger(cap) || cap < floor) {
      throw new TypeError(`MeasuredHistory: window must be positive and floor <= cap whole numbers >= 1; got window ${window}, floor ${floor}, cap ${cap}`);
    }
  }

  /** The size the channel's next publish keeps: the cap until this node has watched it for a whole window. */
  sizeOf(channel: string): number {
    return this.meters.get(channel)?.size ?? this.options.cap;
  }

  publish(channel: string, type: string, dataJson: string, policy: HistoryPolicy, options?: PublishOptions): Promise<PublishResult> | PublishResult {
    if (!this.options.match(channel)) return this.inner.publish(channel, type, dataJson, policy, options);
    const sized = { ...policy, size: this.sizeOf(channel) };
    const result = this.inner.publish(channel, type, dataJson, sized, options);
    if (result instanceof Promise) return result.then((done) => this.record(channel, done));
    return this.record(channel, result);
  }

  /** Notes the channel's offset after a publish and sizes its next one. */
  private record(channel: string, result: PublishResult): PublishResult {
    const now = (this.options.clock ?? Date.now)();
    let meter = this.meters.get(channel);
    // A new epoch (the stream was reset) restarts the count.
    if (!meter || meter.epoch !== result.epoch) {
      meter = { epoch: result.epoch, samples: [], last: 0, size: this.options.cap, cappedAt: 0 };
      this.meters.set(channel, meter);
    }
    meter.last = Math.max(meter.last, result.offset);
    const { samples } = meter;
    if (samples.length === 0 || now - samples[samples.length - 1]![0] >= SAMPLE_EVERY) samples.push([now, result.offset]);
    const start = now - this.options.window;
    // Keep one sample at or before the window's start: the count runs from it.
    while (samples.length > 1 && samples[1]![0] <= start) samples.shift();
    const [at, offset] = samples[0]!;
    const { floor, cap } = this.options;
    // Every message since the sample, the next one included (publishes resolve in any order: `last`
    // is the highest offset seen). Not watched for a whole window yet (`at > start`: this node just
    // started publishing here), what other nodes published before is unknown: nothing is trimmed
    // below the cap.
    const seen = meter.last - offset + 2;
    meter.size = at > start ? cap : Math.min(Math.max(floor, seen), cap);
    if (seen > cap && now - meter.cappedAt >= CAPPED_LOG_EVERY) {
      meter.cappedAt = now;
      this.options.onCapped?.(channel, seen, cap);
    }
    return result;
  }

  start(handlers: EngineHandlers) { return this.inner.start(handlers); }
  subscribe(channel: string) { return this.inner.subscribe(channel); }
  unsubscribe(channel: string) { return this.inner.unsubscribe(channel); }
  history(channel: string, since: StreamPosition | null) { return this.inner.history(channel, since); }
  addPresence(channel: string, entry: PresenceEntry, ttl: number) { return this.inner.addPresence(channel, entry, ttl); }
  removePresence(channel: string, clientId: string, userId: string) { return this.inner.removePresence(channel, clientId, userId); }
  presence(channel: string) { return this.inner.presence(channel); }
  sweepPresence(channel: string) { return this.inner.sweepPresence(channel); }
  send(node: string | null, message: string) { return this.inner.send(node, message); }
  close() { return this.inner.close(); }
  // Acknowledged user streams (notifications.ts), when the engine keeps them.
  get acknowledge() { return this.inner.acknowledge?.bind(this.inner); }
  get acknowledged() { return this.inner.acknowledged?.bind(this.inner); }
  // Pattern subscriptions (the dashboard's `sensors/+`) and records (MQTT persistent sessions, devices.ts).
  get subscribePattern() { return this.inner.subscribePattern?.bind(this.inner); }
  get unsubscribePattern() { return this.inner.unsubscribePattern?.bind(this.inner); }
  get records() { return this.inner.records; }
}
