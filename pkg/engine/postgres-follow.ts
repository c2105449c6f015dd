import type { EngineHandlers, Publication, StreamPosition } from './engine.js';
import { rowToPublication, type MessageRow } from './postgres-rows.js';

/**
 * How a node of the PostgreSQL engine delivers: for each channel it subscribes to, it remembers the
 * last offset it delivered and reads the messages after it, by offset, from the messages table.
 * Notifications only say when to look (and which channel); a timer looks at every channel anyway,
 * so a lost notification, or a listening connection that dropped, delays delivery but loses nothing.
 * Offsets are given under the channel's row lock and so become visible in order: reading "after the
 * last delivered" never skips one. Messages already trimmed (a node too far behind) reset the channel.
 */

export type Query = <R>(what: string, text: string, values: unknown[]) => Promise<R[]>;

interface Followed extends StreamPosition {}

/** Messages read per channel and query. */
const BATCH = 500;

export class Follower {
  /** Followed channels; null while the channel's position is being read. */
  readonly tracked = new Map<string, Followed | null>();
  private readonly wanted = new Set<string>();
  private everything = false;
  private running = false;

  constructor(private readonly schema: string, private readonly query: Query, private readonly handlers: () => EngineHandlers | null) {}

  /** Starts following a channel from `position` (what it holds now), and looks once at once. */
  follow(channel: string, position: StreamPosition): void {
    this.tracked.set(channel, { ...position });
    this.wake(channel);
  }

  /** Looks for new messages of one channel (a notification), or of every followed channel. */
  wake(channel?: string): void {
    if (channel === undefined || channel === '') this.everything = true;
    else if (this.tracked.has(channel)) this.wanted.add(channel);
    else return;
    void this.run();
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.everything || this.wanted.size > 0) {
        const channels = this.everything ? [...this.tracked.keys()] : [...this.wanted];
        this.everything = false;
        this.wanted.clear();
        const ready = channels.filter((c) => this.tracked.get(c));
        if (ready.length > 0) await this.poll(ready);
      }
    } catch {
      // The database is away (the failure was logged); the next timer tick looks again.
    } finally {
      this.running = false;
    }
  }

  /**
   * One round trip for all the channels: for each one that moved (new messages, or a new epoch), its
   * current position and up to BATCH messages after what this node delivered; channels that did not
   * move send no row. A channel still behind after it is looked at again at once.
   */
  private async poll(channels: string[]): Promise<void> {
    const s = this.schema;
    const from = channels.map((c) => this.tracked.get(c)!);
    const rows = await this.query<MessageRow & { name: string; current: string; top: string }>('a read of new messages',
      `select c.name, c.epoch as current, c."offset" as top, m."offset", m.type, m.data, m.tags, m.publisher, m.trace
       from unnest($1::text[], $2::text[], $3::bigint[]) as k(name, epoch, after)
       join ${s}.channels c on c.name = k.name
       left join lateral (
         select "offset", type, data, tags, publisher, trace from ${s}.messages
         where channel = k.name and epoch = k.epoch and "offset" > k.after and "offset" <= c."offset"
         order by "offset" limit ${BATCH}) m on c.epoch = k.epoch
       where c.epoch <> k.epoch or c."offset" > k.after
       order by c.name, m."offset"`,
      [channels, from.map((f) => f.epoch), from.map((f) => f.offset)]);
    const byChannel = new Map<string, typeof rows>();
    for (const row of rows) {
      const list = byChannel.get(row.name);
      if (list) list.push(row); else byChannel.set(row.name, [row]);
    }
    const handlers = this.handlers();
    for (const [i, channel] of channels.entries()) {
      const list = byChannel.get(channel);
      const followed = this.tracked.get(channel);
      // Not moved (or not yet published to), or unsubscribed (or followed anew) while the read was in flight.
      if (!list || !followed || followed !== from[i]) continue;
      const position = { offset: Number(list[0]!.top), epoch: list[0]!.current };
      if (position.epoch !== followed.epoch) {
        this.reset(channel, followed, position, 'its epoch changed (its history was removed)');
        continue;
      }
      if (followed.offset >= position.offset) continue;
      const messages = list.filter((r) => r.offset !== null);
      if (messages.length === 0 || Number(messages[0]!.offset) !== followed.offset + 1) {
        this.reset(channel, followed, position, `messages ${followed.offset + 1} to ${messages.length ? Number(messages[0]!.offset) - 1 : position.offset} were trimmed before this node read them`);
        continue;
      }
      for (const row of messages) {
        const publication: Publication = rowToPublication(channel, followed.epoch, row);
        if (publication.offset !== followed.offset + 1) break;
        followed.offset = publication.offset;
        handlers?.deliver(publication);
      }
      if (followed.offset < position.offset) this.wanted.add(channel);
    }
  }

  private reset(channel: string, followed: Followed, position: StreamPosition, why: string): void {
    followed.offset = position.offset;
    followed.epoch = position.epoch;
    const handlers = this.handlers();
    handlers?.log?.('warn', `postgres:reset:${channel}`, { code: 'engine_reset', channel },
      `livehub: channel '${channel}' could not be continued on this node (${why}); its subscribers are told of a gap. Raise the engine's catchUpWindow if nodes fall this far behind`);
    handlers?.reset(channel, { ...position });
  }
}
