import type { EngineHandlers, HistoryResult, Publication, StreamPosition } from './engine.js';
import { decodeMessage } from './redis-format.js';

/**
 * The Redis engine's delivery side: for each channel this node subscribes to, the last offset it
 * delivered. Pub/sub messages that follow it are delivered; a jump (messages lost while the
 * subscriber connection was down, killed or half-dead) is repaired from history before anything later
 * is delivered; an epoch change (Redis lost its data) or a gap no longer in history is a reset.
 */

export interface Tracked {
  epoch: string | null;
  offset: number;
  /** Set while the position is learnt or a gap is repaired: later messages wait here, in order. */
  waiting: Publication[] | null;
  /** Epochs replaced by a reset: their late messages are ignored. */
  retired: Set<string>;
  /** A repair from history is running (one at a time per channel). */
  repairing: boolean;
  /** A repair was asked for while one ran (a reconnect during a repair): run once more after it. */
  again: boolean;
}

export interface RepairHost {
  history(channel: string, since: StreamPosition | null): Promise<HistoryResult>;
  readonly handlers: EngineHandlers | null;
  readonly host: string;
}

/** Milliseconds between attempts to repair (or learn) a channel while Redis cannot answer. */
const RETRY = 500;

export class ChannelStreams {
  readonly tracked = new Map<string, Tracked>();

  constructor(private readonly engine: RepairHost) {}

  /** Starts tracking a channel; its messages wait until `learned`. */
  track(channel: string): Tracked {
    const tracked: Tracked = { epoch: null, offset: -1, waiting: [], retired: new Set(), repairing: false, again: false };
    this.tracked.set(channel, tracked);
    return tracked;
  }

  /** The stream's position when the subscription began: deliver what waited after it. */
  learned(channel: string, tracked: Tracked, position: StreamPosition): void {
    if (this.tracked.get(channel) !== tracked || tracked.epoch !== null) return;
    tracked.epoch = position.epoch;
    tracked.offset = position.offset;
    this.drain(channel, tracked);
  }

  /** Keeps reading the position until it is known (Redis was away when the subscription began). */
  learnLater(channel: string, tracked: Tracked): void {
    const timer = setTimeout(() => {
      if (this.tracked.get(channel) !== tracked || tracked.epoch !== null) return;
      this.engine.history(channel, null).then(
        (result) => this.learned(channel, tracked, result.position),
        () => this.learnLater(channel, tracked),
      );
    }, RETRY);
    timer.unref();
  }

  /** A pub/sub message of a channel (redis-format.ts). One that cannot be read is logged and dropped. */
  message(channel: string, message: string): void {
    const tracked = this.tracked.get(channel);
    if (!tracked || !this.engine.handlers) return;
    let publication: Publication;
    try {
      publication = decodeMessage(channel, message);
    } catch (err) {
      this.engine.handlers.log?.('error', `redis:${this.engine.host}:bad-message`, { code: 'engine_bad_message', err, host: this.engine.host, channel },
        `livehub: a pub/sub message of channel '${channel}' from Redis at ${this.engine.host} could not be read (${(err as Error).message}); it was dropped, and the gap it leaves is repaired from history`);
      return;
    }
    if (tracked.waiting) {
      tracked.waiting.push(publication);
      return;
    }
    this.accept(channel, tracked, publication);
  }

  /** Channels whose position is known and not being repaired, with it (the periodic check compares them). */
  settled(): Array<{ channel: string; epoch: string; offset: number }> {
    const out: Array<{ channel: string; epoch: string; offset: number }> = [];
    for (const [channel, t] of this.tracked) if (t.epoch !== null && !t.repairing && !t.waiting) out.push({ channel, epoch: t.epoch, offset: t.offset });
    return out;
  }

  /** Whether Redis's top (`epoch`, `offset`) is ahead of what this node delivered on the channel. */
  behind(channel: string, epoch: string, offset: number): boolean {
    const tracked = this.tracked.get(channel);
    if (!tracked || tracked.waiting || tracked.repairing) return false;
    return epoch !== tracked.epoch || offset > tracked.offset;
  }

  /** Fetches what this node missed on a channel and delivers it, or reports a reset. */
  async catchUp(channel: string): Promise<void> {
    const tracked = this.tracked.get(channel);
    if (!tracked) return;
    if (tracked.repairing) {
      tracked.again = true; // what was missed after the running repair's read is caught up next
      return;
    }
    if (tracked.epoch === null) return; // the position is still being learnt
    tracked.waiting ??= [];
    tracked.repairing = true;
    const since = { offset: tracked.offset, epoch: tracked.epoch };
    let result: HistoryResult;
    try {
      result = await this.engine.history(channel, since);
    } catch {
      // Redis is away (the rejection was logged): keep what waits, and try again shortly.
      tracked.repairing = false;
      if (this.engine.handlers && this.tracked.get(channel) === tracked) setTimeout(() => void this.catchUp(channel), RETRY).unref();
      return;
    }
    tracked.repairing = false;
    if (this.tracked.get(channel) !== tracked) return;
    const handlers = this.engine.handlers;
    if (result.recovered) {
      const missed = result.publications.filter((p) => p.offset > tracked.offset);
      for (const p of missed) {
        tracked.offset = p.offset;
        handlers?.deliver(p);
      }
      if (missed.length > 0) {
        handlers?.log?.('info', `redis:${this.engine.host}:repaired`, { code: 'engine_repaired', host: this.engine.host, channel, count: missed.length },
          `livehub: recovered ${missed.length} publication(s) of channel '${channel}' that this node's pub/sub connection to Redis at ${this.engine.host} missed (from history)`);
      }
    } else {
      if (tracked.epoch !== result.position.epoch) tracked.retired.add(tracked.epoch);
      tracked.epoch = result.position.epoch;
      tracked.offset = result.position.offset;
      handlers?.log?.('warn', `redis:${this.engine.host}:reset:${channel}`, { code: 'engine_reset', host: this.engine.host, channel },
        `livehub: channel '${channel}' could not be repaired from Redis at ${this.engine.host} (its history was lost or no longer holds what this node missed): its subscribers are told their position is void (gap); a larger history size/ttl covers longer outages`);
      handlers?.reset(channel, result.position);
    }
    if (tracked.again) {
      tracked.again = false;
      void this.catchUp(channel); // `waiting` stays set, so order is kept
      return;
    }
    this.drain(channel, tracked);
  }

  /** Delivers in order; a jump or a new epoch triggers a repair from history first. */
  private accept(channel: string, tracked: Tracked, publication: Publication): void {
    const { epoch, offset } = publication;
    if (tracked.retired.has(epoch)) return;
    if (tracked.epoch === epoch && offset <= tracked.offset) return; // seen (a repair already delivered it)
    if (tracked.epoch === epoch && offset === tracked.offset + 1) {
      tracked.offset = offset;
      this.engine.handlers?.deliver(publication);
      return;
    }
    tracked.waiting = [publication];
    void this.catchUp(channel);
  }

  /** Hands over what waited, in order; an `accept` that starts a new repair makes the rest wait again. */
  private drain(channel: string, tracked: Tracked): void {
    const waiting = tracked.waiting ?? [];
    tracked.waiting = null;
    for (const m of waiting) {
      const pending = tracked.waiting as Publication[] | null;
      if (pending) pending.push(m);
      else this.accept(channel, tracked, m);
    }
  }
}
