import { checkKnownOptions } from '../options-check.js';
import type { Hub } from '../hub.js';
import { hubState, listen } from './listen.js';

/**
 * The status feed: every `interval` ms each node publishes a snapshot of itself to the status
 * channel, through the hub (and so the engine: every node's page sees every node). The status page
 * subscribes to that channel like any livehub client and aggregates the snapshots by node id.
 *
 * Counting is O(1) per event; the per-channel publish counts that make "top channels" hold at most
 * `MAX_TRACKED` channels per interval (the busiest are almost surely among the first seen).
 */
export const STATUS_CHANNEL = 'livehub-status';
export const SNAPSHOT_TYPE = 'snapshot';
const MAX_TRACKED = 10_000;
const TOP = 10;

export interface StatusSnapshot {
  node: string;
  /** When it was taken (ms since the epoch) and the interval it covers (ms). */
  at: number;
  interval: number;
  uptime: number;
  connections: Record<string, number>;
  channels: number;
  users: number;
  subscriptions: number;
  engine: 'up' | 'down';
  draining: boolean;
  /** Since the node started (the status channel's own messages left out). */
  totals: { published: number; delivered: number; evictions: number; errors: number; bytes: number };
  /** Per second, over the last interval. */
  rates: { published: number; delivered: number };
  /** The channels published to most on this node in the last interval, per second. */
  top: Array<{ channel: string; rate: number }>;
}

export interface StatusFeedOptions {
  /** The channel snapshots go to (default `livehub-status`; statusPage derives one from its key). */
  channel?: string;
  /** Milliseconds between snapshots (default 1000). */
  interval?: number;
  /**
   * Whether the busiest channels are shown by name even when a name says who it belongs to (`user:…`)
   * or that it is private (`private-…`, `presence-…`); otherwise those show their prefix only
   * (`user:…`). statusPage shows them only behind its key.
   * @default false
   */
  privateNames?: boolean;
}

/** The name a snapshot shows for a channel: a personal or private one by its prefix only, unless allowed. */
function shownName(channel: string, privateNames: boolean): string {
  if (privateNames) return channel;
  const prefix = /^(user:|private-|presence-)/.exec(channel)?.[1];
  return prefix === undefined ? channel : `${prefix}…`;
}

/** Publishes this node's snapshots; `snapshot()` takes one now. */
export class StatusFeed {
  readonly channel: string;
  readonly interval: number;
  private readonly privateNames: boolean;
  private readonly totals = { published: 0, delivered: 0, errors: 0 };
  private window = { published: 0, delivered: 0, since: Date.now(), channels: new Map<string, number>() };
  private readonly stopListening: () => void;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly hub: Hub, options: StatusFeedOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('livehub: status feed options must be an object');
    checkKnownOptions(options, ['channel', 'interval', 'privateNames'], 'statusFeed()');
    const { channel = STATUS_CHANNEL, interval = 1000, privateNames = false } = options;
    if (typeof privateNames !== 'boolean') throw new TypeError('livehub: status privateNames must be a boolean');
    this.privateNames = privateNames;
    if (typeof channel !== 'string' || !/^[A-Za-z0-9_\-:.@/=+,!~$]{1,255}$/.test(channel)) throw new TypeError(`livehub: status channel ${JSON.stringify(channel)} is not a channel a client can subscribe to`);
    if (!Number.isFinite(interval) || interval < 100) throw new TypeError('livehub: status interval must be at least 100 ms');
    this.channel = channel;
    this.interval = interval;
    const own = channel;
    this.stopListening = listen(hub, {
      'message.published': (e: { channel: string }) => {
        if (e.channel === own) return;
        this.totals.published++;
        this.window.published++;
        const { channels } = this.window;
        const count = channels.get(e.channel);
        if (count !== undefined) channels.set(e.channel, count + 1);
        else if (channels.size < MAX_TRACKED) channels.set(e.channel, 1);
      },
      'message.delivered': (e: { channel: string; messages: number; sessions: number }) => {
        if (e.channel === own) return;
        this.totals.delivered += e.messages * e.sessions;
        this.window.delivered += e.messages * e.sessions;
      },
      error: () => { this.totals.errors++; },
      // The last snapshot says so: the page shows the node draining until it goes stale.
      'node.draining': () => { this.publish({ ...this.snapshot(), draining: true }); },
    });
    this.timer = setInterval(() => this.tick(), interval);
    this.timer.unref();
  }

  /** This node now; `reset` starts a new rate window. */
  snapshot(reset = false): StatusSnapshot {
    const { hub } = this;
    const now = Date.now();
    const info = hub.info();
    const counters = info;
    const window = this.window;
    const seconds = Math.max(0.001, (now - window.since) / 1000);
    let subscriptions = 0;
    let channels = 0;
    for (const { subscribers } of hub.channelList()) { subscriptions += subscribers; channels++; }
    const top = [...window.channels].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([channel, count]) => ({ channel: shownName(channel, this.privateNames), rate: round(count / seconds) }));
    if (reset) this.window = { published: 0, delivered: 0, since: now, channels: new Map() };
    const { engineUp, draining } = hubState(hub);
    return {
      node: hub.node, at: now, interval: this.interval, uptime: info.uptime,
      connections: info.connections, channels, users: info.users, subscriptions,
      engine: engineUp ? 'up' : 'down', draining,
      totals: { published: this.totals.published, delivered: this.totals.delivered, evictions: counters.evictions, errors: this.totals.errors, bytes: counters.bytes },
      rates: { published: round(window.published / seconds), delivered: round(window.delivered / seconds) },
      top,
    };
  }

  close(): void {
    clearInterval(this.timer);
    this.stopListening();
  }

  private tick(): void {
    const { engineUp, draining } = hubState(this.hub);
    const snapshot = this.snapshot(true);
    // While the engine is down a publish would only fail (and be counted as an error); after
    // close() it would be refused. The page marks a node that stops reporting as stale.
    if (!engineUp || draining) return;
    this.publish(snapshot);
  }

  private publish(snapshot: StatusSnapshot): void {
    // A failure is logged by the hub (publish_failed); the next tick tries again.
    this.hub.publish(this.channel, SNAPSHOT_TYPE, snapshot).catch(() => {});
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
