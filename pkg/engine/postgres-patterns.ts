import { matchesPattern } from '../protocol/index.js';
import type { Follower, Query } from './postgres-follow.js';

/**
 * Pattern delivery of the PostgreSQL engine. Nodes read messages by channel and offset
 * (postgres-follow.ts), so a node with patterns finds the channels they match and follows them too:
 * on each publication's notification, and on every poll by the channels updated since its last look
 * (a lost notification, or a channel name too long to notify, is found there). A channel found for a
 * pattern is followed from its first message written since the pattern was subscribed (the
 * database's clock), so the messages that revealed it are delivered too, in offset order, once: a
 * channel is followed once, however many patterns and subscriptions cover it.
 */
export class PatternFollower {
  /** Patterns, each with how many subscriptions hold it and the database time it was first subscribed. */
  private readonly patterns = new Map<string, { count: number; since: string }>();
  /** Channels followed because a pattern matches them. */
  private readonly found = new Set<string>();
  /** Channels being looked up. */
  private readonly finding = new Set<string>();
  private lastLook: string | null = null;

  constructor(private readonly schema: string, private readonly query: Query, private readonly follower: Follower) {}

  async add(pattern: string): Promise<void> {
    const held = this.patterns.get(pattern);
    if (held) {
      held.count++;
      return;
    }
    const [row] = await this.query<{ now: string }>(`a subscribe to pattern '${pattern}'`, 'select now()::text as now', []);
    if (this.patterns.has(pattern)) this.patterns.get(pattern)!.count++;
    else this.patterns.set(pattern, { count: 1, since: row!.now });
    this.lastLook ??= row!.now;
  }

  remove(pattern: string): void {
    const held = this.patterns.get(pattern);
    if (!held || --held.count > 0) return;
    this.patterns.delete(pattern);
    for (const channel of this.found) {
      if (this.matched(channel) === null) {
        this.found.delete(channel);
        if (!this.exact.has(channel)) this.follower.tracked.delete(channel);
      }
    }
    if (this.patterns.size === 0) this.lastLook = null;
  }

  /** Channels subscribed by name (the engine's subscribe), so that dropping a pattern keeps following them. */
  readonly exact = new Set<string>();

  /** The last subscription by name of a channel left: whether it stays followed, for a pattern. */
  keeps(channel: string): boolean {
    this.exact.delete(channel);
    if (this.matched(channel) === null) return false;
    this.found.add(channel);
    return true;
  }

  /** A channel had a publication (a notification): follow it when a pattern matches it. */
  notified(channel: string): void {
    if (channel === '' || this.patterns.size === 0 || this.follower.tracked.has(channel) || this.finding.has(channel)) return;
    const since = this.matched(channel);
    if (since !== null) void this.find(channel, since);
  }

  /** Looks for channels updated since the last look that a pattern matches (the poll timer). */
  async discover(): Promise<void> {
    if (this.patterns.size === 0 || this.lastLook === null) return;
    const rows = await this.query<{ name: string; now: string }>('a look for channels patterns match',
      `select name, now()::text as now from ${this.schema}.channels where updated_at >= $1::timestamptz`, [this.lastLook]).catch(() => null);
    if (rows === null) return;
    for (const { name } of rows) this.notified(name);
    if (rows.length > 0) this.lastLook = rows[0]!.now;
  }

  /** The earliest time of the patterns matching the channel, or null when none does. */
  private matched(channel: string): string | null {
    let since: string | null = null;
    for (const [pattern, held] of this.patterns) {
      if (matchesPattern(pattern, channel) && (since === null || held.since < since)) since = held.since;
    }
    return since;
  }

  private async find(channel: string, since: string): Promise<void> {
    this.finding.add(channel);
    try {
      const [row] = await this.query<{ epoch: string; offset: string; first: string | null }>(`a follow of channel '${channel}'`,
        `select c.epoch, c."offset", (select min(m."offset") from ${this.schema}.messages m where m.channel = c.name and m.epoch = c.epoch and m.created_at >= $2::timestamptz) as first
         from ${this.schema}.channels c where c.name = $1`, [channel, since]);
      if (!row || this.follower.tracked.has(channel) || this.matched(channel) === null) return;
      const offset = row.first === null ? Number(row.offset) : Number(row.first) - 1;
      this.found.add(channel);
      this.follower.follow(channel, { offset, epoch: row.epoch });
    } catch {
      // The database is away (logged by the query); the next poll looks again.
    } finally {
      this.finding.delete(channel);
    }
  }
}
