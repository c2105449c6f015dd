import type { HistoryResult, StreamPosition } from './engine.js';
import { rowToPublication, type MessageRow } from './postgres-rows.js';

/**
 * The PostgreSQL engine's history reads, grouped: the `history` calls a node makes while its previous
 * read is in flight (thousands at once when clients come back after a restart and resubscribe with
 * their positions) go to PostgreSQL as one statement, one round trip, instead of one each. Calls for
 * the same channel from the same position (the clients of one busy channel coming back together) are
 * read once and share what was read. Each call gets its own result, as from a read of its own; a failed
 * statement fails each call of it.
 */

/** Runs one read statement (the engine's `run`). */
export type ReadStatement = <R>(what: string, text: string, values: unknown[]) => Promise<R[]>;

interface Waiting {
  channel: string;
  since: StreamPosition | null;
  resolve: (result: HistoryResult) => void;
  reject: (err: unknown) => void;
}

type Row = MessageRow & { n: string; top: string; current: string };

/** Distinct reads (channel and position) per statement at most. */
const MAX_READS = 2000;

export class HistoryReads {
  private waiting: Waiting[] = [];
  private busy = false;
  private scheduled = false;
  private readonly text: string;

  constructor(schema: string, private readonly run: ReadStatement) {
    const s = schema;
    // Each element: the channel's position, then the messages after `since` that its history still
    // holds, in the same epoch. Both are read in the statement's snapshot, so the position never counts
    // a message the read does not see (the `position` function, which reads anew, only creates the
    // row of a channel that has none: it has no messages).
    this.text = `with k as (select * from unnest($1::text[], $2::bigint[], $3::text[]) with ordinality as k(channel, since, epoch, n)),
      p as (select k.n, k.channel, k.since, k.epoch as wanted, coalesce(ch.epoch, c.epoch) as current,
              coalesce(ch."offset", c."offset") as top, coalesce(ch.history_size, 0) as size
            from k left join ${s}.channels ch on ch.name = k.channel
            left join lateral (select * from ${s}.position(k.channel) where ch.name is null) c on true)
      select p.n, p.current, p.top, m."offset", m.type, m.data, m.tags, m.publisher, m.trace
      from p left join ${s}.messages m on p.since >= 0 and p.current = p.wanted and m.channel = p.channel and m.epoch = p.current
        and m."offset" > p.since and m."offset" <= p.top and m."offset" > p.top - p.size and m.expires_at > clock_timestamp()
      order by p.n, m."offset"`;
  }

  read(channel: string, since: StreamPosition | null): Promise<HistoryResult> {
    return new Promise<HistoryResult>((resolve, reject) => {
      this.waiting.push({ channel, since, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.busy || this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    // Calls for one channel from one position share a read; up to MAX_READS distinct reads per statement.
    const reads = new Map<string, Waiting[]>();
    let count = 0;
    for (const w of this.waiting) {
      const key = w.since ? `${w.since.offset}\u0000${w.since.epoch}\u0000${w.channel}` : `\u0000\u0000${w.channel}`;
      const same = reads.get(key);
      if (same) same.push(w);
      else if (reads.size === MAX_READS) break;
      else reads.set(key, [w]);
      count++;
    }
    const taken = this.waiting.splice(0, count);
    // Sorted by channel, so statements that create channel rows take their locks in one order.
    const groups = [...reads.values()].sort((a, b) => (a[0]!.channel < b[0]!.channel ? -1 : a[0]!.channel > b[0]!.channel ? 1 : 0));
    try {
      const what = groups.length === 1 ? `history of channel '${groups[0]![0]!.channel}'` : `history of ${groups.length} channels`;
      const firsts = groups.map((g) => g[0]!);
      const rows = await this.run<Row>(what, this.text, [
        firsts.map((w) => w.channel), firsts.map((w) => (w.since ? w.since.offset : -1)), firsts.map((w) => (w.since ? w.since.epoch : '')),
      ]);
      const byRead: Row[][] = groups.map(() => []);
      for (const row of rows) byRead[Number(row.n) - 1]!.push(row);
      groups.forEach((group, i) => {
        const shared = result(group[0]!, byRead[i]!);
        for (const w of group) w.resolve({ ...shared, publications: [...shared.publications] });
      });
    } catch (err) {
      for (const w of taken) w.reject(err);
    } finally {
      this.busy = false;
      this.schedule();
    }
  }
}

/** One call's result from its rows (the first one carries the position). */
function result(w: Waiting, rows: Row[]): HistoryResult {
  const first = rows[0]!;
  const position = { offset: Number(first.top), epoch: first.current };
  const { since } = w;
  if (!since || since.epoch !== position.epoch || since.offset > position.offset) return { position, publications: [], recovered: false };
  const publications = rows.filter((r) => r.offset !== null).map((r) => rowToPublication(w.channel, position.epoch, r));
  if (publications.length !== position.offset - since.offset) return { position, publications: [], recovered: false };
  return { position, publications, recovered: true };
}
