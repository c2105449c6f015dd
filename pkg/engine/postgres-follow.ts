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

  private async poll(channels: string[]): Promise<void> {
    const s = this.schema;
    const tops = await this.query<{ name: string; epoch: string; offset: string }>('a read of new messages',
      `select name, epoch, "offset" from ${s}.channels where name = any($1::text[])`, [channels]);
    for (const top of tops) {
      const followed = this.tracked.get(top.name);
      if (!followed) continue;
      const position = { offset: Number(top.offset), epoch: top.epoch };
      if (position.epoch !== followed.epoch) {
        this.reset(top.name, followed, position, 'its epoch changed (its history was removed)');
        continue;
      }
      while (followed.offset < position.offset && this.tracked.get(top.name) === followed) {
        const rows = await this.query<MessageRow>('a read of new messages',
          `select "offset", type, data, tags, publisher, trace from ${s}.messages
           where channel = $1 and epoch = $2 and "offset" > $3 and "offset" <= $4 order by "offset" limit ${BATCH}`,
          [top.name, followed.epoch, followed.offset, position.offset]);
        if (this.tracked.get(top.name) !== followed) break;
        if (rows.length === 0 || Number(rows[0]!.offset) !== followed.offset + 1) {
          this.reset(top.name, followed, position, `messages ${followed.offset + 1} to ${rows.length ? Number(rows[0]!.offset) - 1 : position.offset} were trimmed before this node read them`);
          break;
        }
        const handlers = this.handlers();
        for (const row of rows) {
          const publication: Publication = rowToPublication(top.name, followed.epoch, row);
          if (publication.offset !== followed.offset + 1) break;
          followed.offset = publication.offset;
          handlers?.deliver(publication);
        }
      }
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
