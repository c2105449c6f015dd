import { checkKnownOptions } from '../../pkg/options-check.js';
import { ErrorCode, type ServerReply } from '../../pkg/protocol/index.js';
import { LiveError, type GapEvent } from '../errors.js';
import type { LiveClient } from '../live-client.js';
import type { ReadableStore } from './store.js';

/**
 * What the hooks show of their channels besides messages: the server's refusals (`error`) and the
 * messages lost for good (`gap`), so that a page can neither miss one nor hide it by accident.
 */

/** The gaps a hook saw since its last `clearGap()`: the latest one, and how many there were. */
export interface Gap extends GapEvent {
  /** How many gaps came since the last `clearGap()` (1 for the first): a second one never hides the first. */
  readonly count: number;
}

/** A hook's view of its channel (or channels). */
export interface ChannelStatus {
  /**
   * The server's refusal of a subscribe to, or a publish on, the hook's channel (a `LiveError`: `code`
   * such as `forbidden`, `channel`, and a message saying what to change); a refused subscribe shows
   * first. A refused subscribe ends when the channel is subscribed (each new connection subscribes
   * it again), a refused publish when a publish through a hook is acked.
   * @default null
   */
  readonly error: LiveError | null;
  /**
   * Messages were missed on the hook's channel and could not be replayed (a `gap`: the channel,
   * `since` the last position seen, `position` where live messages continue, `count`). It stays set
   * until `clearGap()`, so a page that shows it cannot miss one: reload what the page lists, then
   * clear it.
   * @default null
   */
  readonly gap: Gap | null;
}

/** The option of every hook with a `gap`. */
export interface GapOptions {
  /**
   * Called at each gap on the hook's channel, as it happens (before the live messages after it):
   * start reloading what the page lists here. The newest function passed is called.
   * @default none: the gap only shows in `gap`, which stays set until `clearGap()`
   */
  onGap?: (gap: GapEvent) => void;
}

/** Throws a TypeError for an unknown option of `useChannel()` (`client`, `since`, `onGap`) or an `onGap` that is not a function. */
export function checkChannelOptions(options: object): void {
  checkKnownOptions(options, ['client', 'since', 'onGap'], 'useChannel()');
  const { onGap } = options as GapOptions;
  if (onGap !== undefined && typeof onGap !== 'function') throw new TypeError('livehub: useChannel: onGap must be a function');
}

export const NO_CHANNEL_STATUS: ChannelStatus = Object.freeze({ error: null, gap: null });

export type ChannelStateClient = Pick<LiveClient, 'events'>;

/** A channel's refusals: of its subscribe, and of anything else on it (a publish, a presence request). */
interface Refused { subscribe?: LiveError; other?: LiveError }
type RefusalKind = keyof Refused;

/**
 * The refusals of one client's channels, shared by every hook on it (a hook mounted after a refusal
 * still shows it): set by each error about a channel. A subscribe's refusal ends when the channel is
 * subscribed; another (a publish) when a publish through a hook is acked; both on a new connection,
 * which subscribes every channel again. A subscribe's refusal is shown first: a later publish,
 * refused or not, never hides it.
 */
export class ChannelRefusals {
  private readonly refused = new Map<string, Refused>();
  private readonly listeners = new Set<() => void>();

  constructor(client: ChannelStateClient) {
    // `subscribeError` comes first, then `error` with the same error.
    let subscribeError: LiveError | null = null;
    client.events.on('subscribeError', (event) => { subscribeError = event.error; });
    client.events.on('error', (error) => {
      if (!(error instanceof LiveError) || error.channel === undefined) return;
      this.set(error.channel, error === subscribeError ? 'subscribe' : 'other', error);
      subscribeError = null;
    });
    client.events.on('reply', (reply) => { if (answersSubscribe(reply)) this.clear(reply.channel, 'subscribe'); });
    client.events.on('open', () => {
      if (this.refused.size === 0) return;
      this.refused.clear();
      this.changed();
    });
  }

  /** The refusal of `channel`, or of the first of the channels `covers` accepts. */
  errorOf(covers: (channel: string) => boolean): LiveError | null {
    for (const [channel, refused] of this.refused) if (covers(channel)) return refused.subscribe ?? refused.other ?? null;
    return null;
  }

  clear(channel: string, kind: RefusalKind): void {
    const refused = this.refused.get(channel);
    if (!refused?.[kind]) return;
    delete refused[kind];
    if (!refused.subscribe && !refused.other) this.refused.delete(channel);
    this.changed();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  private set(channel: string, kind: RefusalKind, error: LiveError): void {
    const refused = this.refused.get(channel) ?? {};
    refused[kind] = error;
    this.refused.set(channel, refused);
    this.changed();
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** A subscribe's success: `subscribed`, or `already_subscribed` (the server had subscribed it by itself). */
function answersSubscribe(reply: ServerReply): reply is ServerReply & { channel: string } {
  return (reply.type === 'subscribed' || (reply.type === 'error' && reply.code === ErrorCode.AlreadySubscribed))
    && typeof reply.channel === 'string';
}

const registries = new WeakMap<object, ChannelRefusals>();

/** The refusals of `client`'s channels, recorded from first use on and shared by every hook on it. */
export function refusalsOf(client: ChannelStateClient): ChannelRefusals {
  let refusals = registries.get(client);
  if (!refusals) registries.set(client, (refusals = new ChannelRefusals(client)));
  return refusals;
}

/**
 * One hook's `{ error, gap }` as a store: `covers(channel)` says which channels are the hook's;
 * `onGap()` gives the hook's gap callback (read at each gap, so it may change). The gap is the
 * hook's own (each clears its own); the error is the client's, shared. Listens while subscribed.
 */
export class ChannelStateStore implements ReadableStore<ChannelStatus> {
  private snapshot: ChannelStatus = NO_CHANNEL_STATUS;
  private readonly listeners = new Set<() => void>();
  private stop: (() => void) | null = null;

  constructor(
    private readonly client: ChannelStateClient,
    private readonly covers: (channel: string) => boolean,
    private readonly onGap: () => ((gap: GapEvent) => void) | undefined = () => undefined,
  ) {}

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    if (!this.stop) this.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size > 0 || !this.stop) return;
      this.stop();
      this.stop = null;
    };
  };

  readonly getSnapshot = (): ChannelStatus => this.snapshot;

  readonly getServerSnapshot = (): ChannelStatus => NO_CHANNEL_STATUS;

  /** Forgets the gap (the page has reloaded what it lists). */
  readonly clearGap = (): void => {
    if (this.snapshot.gap) this.update({ ...this.snapshot, gap: null });
  };

  /** A publish through the hook was acked on `channel`: a refusal shown for it is over. */
  published(channel: string): void {
    refusalsOf(this.client).clear(channel, 'other');
  }

  /** Starts over, for a hook that moved to another channel. */
  reset(): void {
    this.update({ error: refusalsOf(this.client).errorOf(this.covers), gap: null });
  }

  private start(): void {
    const refusals = refusalsOf(this.client);
    const syncError = () => {
      const error = refusals.errorOf(this.covers);
      if (error !== this.snapshot.error) this.update({ ...this.snapshot, error });
    };
    const stops = [
      refusals.onChange(syncError),
      this.client.events.on('gap', (event) => {
        if (!this.covers(event.channel)) return;
        this.update({ ...this.snapshot, gap: Object.freeze({ ...event, count: (this.snapshot.gap?.count ?? 0) + 1 }) });
        this.onGap()?.({ ...event });
      }),
    ];
    syncError();
    this.stop = () => { for (const stop of stops) stop(); };
  }

  private update(next: ChannelStatus): void {
    this.snapshot = Object.freeze(next);
    for (const listener of [...this.listeners]) listener();
  }
}
