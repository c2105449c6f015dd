import { ErrorCode, EVERYONE_CHANNEL, type HubMessage, type ServerReply, type StreamPosition } from '../pkg/protocol/index.js';
import { backoffDelay } from './backoff.js';
import { LiveError, RETRYABLE_CODES, type GapEvent, type RecoveredEvent, type SubscribeErrorEvent } from './errors.js';
import type { ResolvedOptions } from './options.js';

/** What the subscriptions need from their client. */
export interface SubscriptionsHost {
  isOpen(): boolean;
  /** True when the server confirms subscribes (it chose the `livehub.v1` subprotocol). */
  confirms(): boolean;
  send(command: object): void;
  nextId(): string;
  recovered(event: RecoveredEvent): void;
  gap(event: GapEvent): void;
  subscribeError(event: SubscribeErrorEvent): void;
  /** A channel's subscribe succeeded: an error reported for it is over. */
  subscribed(channel: string): void;
}

interface Attempt {
  /** The id of the subscribe in flight (null once answered or while waiting to retry). */
  id: string | null;
  /** Failures in a row, for the backoff. */
  failures: number;
  /** The answer deadline, or the retry. */
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * The channels a client wants and where each stands: reference counts (handlers plus `subscribe()`
 * calls), the last position seen, subscribes in flight, and their retries after a retryable error.
 */
export class Subscriptions {
  /** Reference counts of wanted channels. */
  private readonly wanted = new Map<string, number>();
  /** The last position seen per subscribed channel. */
  private readonly positions = new Map<string, StreamPosition>();
  /** Positions sent with subscribes not answered yet. */
  private readonly asked = new Map<string, StreamPosition>();
  private readonly attempts = new Map<string, Attempt>();
  /**
   * Channels the server had subscribed this connection to by itself (a user's personal channel
   * `user:<id>`): a subscribe of ours was answered `subscribed` with `personal: true` (or, by an
   * older hub, `already_subscribed`), so we only listen, and never unsubscribe what we did not subscribe.
   */
  private readonly standing = new Set<string>();

  constructor(private readonly host: SubscriptionsHost, private readonly options: ResolvedOptions) {}

  channels(): string[] {
    return [...this.wanted.keys()];
  }

  has(channel: string): boolean {
    return this.wanted.has(channel);
  }

  position(channel: string): StreamPosition | undefined {
    const position = this.positions.get(channel);
    return position && { ...position };
  }

  /** Resumes `channel` from `since` unless a position is already held. */
  startFrom(channel: string, since: StreamPosition): void {
    if (!this.positions.has(channel)) this.positions.set(channel, { ...since });
  }

  /** Counts a holder of `channel` in or out; subscribes on the first, unsubscribes after the last. */
  want(channel: string, delta: 1 | -1): void {
    const count = (this.wanted.get(channel) ?? 0) + delta;
    if (count < 0) return;
    if (count === 0) this.wanted.delete(channel);
    else this.wanted.set(channel, count);
    const changed = (delta === 1 && count === 1) || (delta === -1 && count === 0);
    if (!changed || channel === EVERYONE_CHANNEL) return;
    if (delta === -1) {
      this.positions.delete(channel);
      this.asked.delete(channel);
      this.forget(channel);
    }
    if (!this.host.isOpen()) return;
    if (delta === 1) this.subscribe(channel);
    else if (!this.standing.delete(channel)) this.host.send({ type: 'unsubscribe', channel });
  }

  /**
   * The connection opened: subscribe every wanted channel, from its last position. Channels in
   * `resumed` the server has subscribed already (an SSE stream resumed from its last event id): their
   * answer is awaited without a subscribe of ours, and those no longer wanted are unsubscribed.
   */
  opened(resumed: ReadonlyMap<string, StreamPosition> = new Map()): void {
    this.asked.clear();
    for (const channel of this.wanted.keys()) {
      this.stop(channel);
      if (channel === EVERYONE_CHANNEL) continue;
      const since = resumed.get(channel);
      if (since) this.awaitResumed(channel, since);
      else this.subscribe(channel);
    }
    for (const channel of resumed.keys()) if (!this.wanted.has(channel)) this.host.send({ type: 'unsubscribe', channel });
  }

  /** The connection closed: nothing is in flight any more; `opened()` subscribes again. */
  closed(): void {
    this.standing.clear();
    for (const channel of this.attempts.keys()) this.stop(channel);
  }

  /** Whether a hub message is new (above the last position seen); advances the position. */
  accept(message: HubMessage): boolean {
    const position = this.positions.get(message.channel);
    if (position && typeof message.offset === 'number') {
      if (message.offset <= position.offset) return false;
      position.offset = message.offset;
    }
    return true;
  }

  /** Handles `subscribed`, `reset`, and error frames answering a subscribe (returns true for those). */
  reply(reply: ServerReply): boolean {
    if (reply.type === 'subscribed') this.onSubscribed(reply);
    else if (reply.type === 'reset' && this.wanted.has(reply.channel)) {
      const position = { offset: reply.offset, epoch: reply.epoch };
      const since = this.positions.get(reply.channel);
      this.positions.set(reply.channel, position);
      this.host.gap({ channel: reply.channel, position: { ...position }, since: since ? { ...since } : null });
    } else if (reply.type === 'error') return this.onError(reply);
    return false;
  }

  /** Subscribes, resuming from the last position seen when there is one. */
  private subscribe(channel: string): void {
    const since = this.positions.get(channel);
    if (since) this.asked.set(channel, { ...since });
    const id = this.host.nextId();
    const attempt = this.attempts.get(channel) ?? { id: null, failures: 0, timer: null };
    this.attempts.set(channel, attempt);
    attempt.id = id;
    if (attempt.timer) clearTimeout(attempt.timer);
    attempt.timer = null;
    // A hub of the plain protocol knows no ids and no positions: its frame is exactly {type, channel}.
    // A position exists only where a livehub hub sent offsets: then the full frame, which it answers.
    if (!this.host.confirms() && !since) this.host.send({ type: 'subscribe', channel });
    else this.host.send(since ? { type: 'subscribe', channel, since, id } : { type: 'subscribe', channel, id });
    this.armAnswerTimer(channel, attempt);
  }

  /** The server subscribes `channel` from `since` by itself: wait for its answer as for our own subscribe. */
  private awaitResumed(channel: string, since: StreamPosition): void {
    this.asked.set(channel, { ...since });
    const attempt = this.attempts.get(channel) ?? { id: null, failures: 0, timer: null };
    this.attempts.set(channel, attempt);
    attempt.id = `resumed:${channel}`;
    this.armAnswerTimer(channel, attempt);
  }

  private armAnswerTimer(channel: string, attempt: Attempt): void {
    if (!this.host.confirms()) return;
    // A subscribe the server dropped (rate limited) gets no answer: count it as failed, and retry.
    attempt.timer = setTimeout(() => {
      attempt.timer = null;
      this.failed(channel, new LiveError('timeout', `no answer to subscribe within ${this.options.ackTimeout} ms`, channel));
    }, this.options.ackTimeout);
  }

  /** Records where a channel's stream stands; a subscribe with a position is recovered or a gap. */
  private onSubscribed(reply: Extract<ServerReply, { type: 'subscribed' }>): void {
    const { channel, offset, epoch, recovered } = reply;
    if (!this.wanted.has(channel)) return;
    // With nothing in flight, the reply is stale (a second answer after a resend): the position held is newer.
    const attempt = this.attempts.get(channel);
    if (!attempt || attempt.id === null) return;
    const hadFailed = attempt.failures > 0;
    this.forget(channel);
    // The hub's own subscription of this connection: listened to, never unsubscribed.
    if (reply.personal === true) this.standing.add(channel);
    if (hadFailed) this.host.subscribed(channel);
    if (typeof offset !== 'number' || typeof epoch !== 'string') return;
    const asked = this.asked.get(channel);
    this.asked.delete(channel);
    if (asked && recovered === true) {
      // The replay follows; the position advances with it.
      this.positions.set(channel, asked);
      this.host.recovered({ channel, from: asked.offset, to: offset });
      return;
    }
    this.positions.set(channel, { offset, epoch });
    if (asked) this.host.gap({ channel, position: { offset, epoch }, since: asked });
  }

  private onError(reply: Extract<ServerReply, { type: 'error' }>): boolean {
    let channel: string | undefined;
    if (reply.id !== undefined) {
      for (const [name, attempt] of this.attempts) if (attempt.id === reply.id) channel = name;
    } else if (reply.channel !== undefined && this.attempts.get(reply.channel)?.id) {
      channel = reply.channel;
    }
    // Always the answer to a subscribe, and never an error: the subscription stands.
    if (reply.code === ErrorCode.AlreadySubscribed) {
      if (channel !== undefined) this.alreadySubscribed(channel);
      return true;
    }
    if (channel === undefined) return false;
    this.failed(channel, new LiveError(reply.code, reply.message, channel));
    return true;
  }

  /**
   * The server had subscribed the connection to `channel` already (its personal channel, which the
   * hub joins by itself): not an error, the channel's messages already come. No position is known.
   */
  private alreadySubscribed(channel: string): void {
    const hadFailed = (this.attempts.get(channel)?.failures ?? 0) > 0;
    this.forget(channel);
    this.asked.delete(channel);
    if (!this.wanted.has(channel)) return;
    this.standing.add(channel);
    if (hadFailed) this.host.subscribed(channel);
  }

  /** A subscribe failed: report it, and retry it with backoff when the error can pass. */
  private failed(channel: string, error: LiveError): void {
    const attempt = this.attempts.get(channel);
    if (!attempt || !this.wanted.has(channel)) return;
    attempt.id = null;
    if (attempt.timer) clearTimeout(attempt.timer);
    attempt.timer = null;
    this.asked.delete(channel);
    if (!RETRYABLE_CODES.has(error.code) || !this.host.isOpen()) {
      attempt.failures++;
      this.host.subscribeError({ channel, error, retrying: false });
      return;
    }
    const { delay, maxDelay } = this.options.reconnect;
    const retryIn = backoffDelay(attempt.failures++, delay, maxDelay, this.options.random);
    attempt.timer = setTimeout(() => {
      attempt.timer = null;
      if (this.wanted.has(channel) && this.host.isOpen()) this.subscribe(channel);
    }, retryIn);
    this.host.subscribeError({ channel, error, retrying: true, retryIn });
  }

  /**
   * Nothing is in flight for a channel any more (the connection is gone, or about to subscribe
   * again), but its failures in a row are kept: when a later subscribe succeeds, the error reported
   * for the channel is over, and the backoff goes on from where it was.
   */
  private stop(channel: string): void {
    const attempt = this.attempts.get(channel);
    if (!attempt) return;
    if (attempt.timer) clearTimeout(attempt.timer);
    attempt.timer = null;
    attempt.id = null;
  }

  /** Stops tracking a channel's subscribe (answered or unwanted). */
  private forget(channel: string): void {
    const attempt = this.attempts.get(channel);
    if (attempt?.timer) clearTimeout(attempt.timer);
    this.attempts.delete(channel);
  }
}
