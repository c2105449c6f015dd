import { isServerError } from './postgres-health.js';
import { EngineUnavailableError } from './redis-health.js';

/**
 * Group commit for the PostgreSQL engine's publishes: the publishes a node makes while its previous
 * statement is in flight go to PostgreSQL together, as one statement (one transaction, one round trip,
 * one commit flush), instead of one statement each.
 *
 * - Channels are spread over a few lanes (by a hash of the name); each lane has at most one statement
 *   in flight, so two publishes to one channel never run at once, and a channel's publishes take their
 *   offsets in the order they were called. Lanes run in parallel on the pool's connections.
 * - Within a statement the publishes are sorted by channel (keeping call order within a channel), so
 *   every batch takes its channels' row locks in one order.
 * - Each publish is answered with its own outcome. When PostgreSQL refuses a batch (an SQL error rolls
 *   the whole statement back, so nothing of it was applied) its publishes are sent again one by one,
 *   and only the one at fault fails. When a batch gets no answer, each of its publishes rejects with
 *   `outcome_unknown`; when it could not be sent, with `unavailable` (as a single publish would).
 * - A publish that waited past `commandTimeout` for its lane is not sent: it rejects `unavailable`. So
 *   do the publishes waiting behind a statement that got no answer (the database is away or frozen):
 *   they fail at once rather than each wait for a connection; publishes called after that try again.
 */

/** What `<schema>.publish` answers for one publish. */
export interface PublishRow { offset: string; epoch: string; duplicate: boolean }

/** Runs one statement within the deadline counted from `called` (the engine's `run`, as a write). */
export type RunStatement = <R>(what: string, text: string, values: unknown[], called: number) => Promise<R[]>;

interface Waiting {
  channel: string;
  /** The ten arguments of `<schema>.publish`, in its order. */
  args: unknown[];
  called: number;
  resolve: (row: PublishRow) => void;
  reject: (err: unknown) => void;
}

interface Lane { waiting: Waiting[]; busy: boolean; scheduled: boolean }

/** Array types of `<schema>.publish`'s ten arguments, for the batch statement's `unnest`. */
const ARRAY_TYPES = ['text', 'text', 'text', 'integer', 'bigint', 'jsonb', 'jsonb', 'jsonb', 'text', 'bigint'];
const COLUMNS = ['channel', 'type', 'data', 'size', 'ttl', 'tags', 'publisher', 'trace', 'key', 'key_ttl'];

export interface PublishBatcherOptions {
  schema: string;
  host: string;
  commandTimeout: number;
  /** Statements in flight at once (each on its own pooled connection). */
  lanes: number;
  /** Publishes per statement at most. @default 1000 */
  maxBatch?: number;
}

export class PublishBatcher {
  private readonly lanes: Lane[];
  private readonly single: string;
  private readonly batch: string;
  private readonly maxBatch: number;

  constructor(private readonly options: PublishBatcherOptions, private readonly run: RunStatement) {
    const s = options.schema;
    this.lanes = Array.from({ length: Math.max(1, options.lanes) }, () => ({ waiting: [], busy: false, scheduled: false }));
    this.maxBatch = options.maxBatch ?? 1000;
    this.single = `select * from ${s}.publish($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10)`;
    // The lateral call runs once per element, in the order `unnest` yields them (array order).
    this.batch = `select p."offset", p.epoch, p.duplicate
      from unnest(${ARRAY_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) with ordinality as u(${COLUMNS.join(', ')}, n)
      cross join lateral ${s}.publish(${COLUMNS.map((c) => `u.${c}`).join(', ')}) p
      order by u.n`;
  }

  /** Queues one publish; resolves with its row once its statement committed. */
  publish(channel: string, args: unknown[], called: number): Promise<PublishRow> {
    return new Promise<PublishRow>((resolve, reject) => {
      const lane = this.lanes[laneOf(channel, this.lanes.length)]!;
      lane.waiting.push({ channel, args, called, resolve, reject });
      this.schedule(lane);
    });
  }

  /** Sends the lane's next batch once the publishes of this turn have been queued. */
  private schedule(lane: Lane): void {
    if (lane.busy || lane.scheduled || lane.waiting.length === 0) return;
    lane.scheduled = true;
    setImmediate(() => {
      lane.scheduled = false;
      void this.flush(lane);
    });
  }

  private async flush(lane: Lane): Promise<void> {
    if (lane.busy) return;
    lane.busy = true;
    try {
      const now = Date.now();
      const taken = lane.waiting.splice(0, this.maxBatch);
      const due: Waiting[] = [];
      for (const w of taken) {
        if (now - w.called >= this.options.commandTimeout) w.reject(this.late(w));
        else due.push(w);
      }
      const answered = due.length === 1 ? await this.one(due[0]!) : due.length > 1 ? await this.many(due) : true;
      if (!answered) for (const w of lane.waiting.splice(0)) w.reject(this.behind(w));
    } finally {
      lane.busy = false;
      this.schedule(lane);
    }
  }

  /** One publish, one statement; false when PostgreSQL did not answer. */
  private async one(w: Waiting): Promise<boolean> {
    try {
      const [row] = await this.run<PublishRow>(`publish to channel '${w.channel}'`, this.single, w.args, w.called);
      w.resolve(row!);
      return true;
    } catch (err) {
      w.reject(err);
      return answered(err);
    }
  }

  /** Several publishes, one statement; sorted by channel, call order kept within a channel. False when PostgreSQL did not answer. */
  private async many(due: Waiting[]): Promise<boolean> {
    const sorted = due.map((w, i) => ({ w, i })).sort((a, b) => (a.w.channel < b.w.channel ? -1 : a.w.channel > b.w.channel ? 1 : a.i - b.i)).map((x) => x.w);
    const columns = COLUMNS.map((_, c) => sorted.map((w) => w.args[c] ?? null));
    const channels = [...new Set(sorted.map((w) => w.channel))];
    const what = `a batch of ${sorted.length} publishes (to ${channels.length === 1 ? `channel '${channels[0]}'` : `${channels.length} channels`})`;
    const called = Math.min(...sorted.map((w) => w.called));
    let rows: PublishRow[];
    try {
      rows = await this.run<PublishRow>(what, this.batch, columns, called);
    } catch (err) {
      if (answered(err)) {
        // Refused and rolled back as a whole: each publish again on its own, so only the one at fault fails.
        for (const w of sorted) if (!await this.one(w)) return false;
        return true;
      }
      for (const w of sorted) w.reject(this.own(err, what, w));
      return false;
    }
    if (rows.length !== sorted.length) {
      const err = new EngineUnavailableError(`livehub: ${what}: PostgreSQL at ${this.options.host} answered ${rows.length} rows for ${sorted.length} publishes, so which were applied is unknown; retry with the same idempotency id (never a duplicate)`, this.options.host, undefined, 'outcome_unknown');
      for (const w of sorted) w.reject(this.own(err, what, w));
      return true;
    }
    sorted.forEach((w, i) => w.resolve(rows[i]!));
    return true;
  }

  /** The batch's failure, worded for one of its publishes (same code and cause). */
  private own(err: unknown, what: string, w: Waiting): unknown {
    if (!(err instanceof EngineUnavailableError)) return err;
    return new EngineUnavailableError(err.message.replace(what, `publish to channel '${w.channel}' (sent in ${what})`), err.host, err.cause, err.code);
  }

  private behind(w: Waiting): EngineUnavailableError {
    return new EngineUnavailableError(`livehub: publish to channel '${w.channel}' failed: not sent, the publishes before it (in order on this node) got no answer from PostgreSQL at ${this.options.host}; it is frozen, overloaded or away; retry later`, this.options.host);
  }

  private late(w: Waiting): EngineUnavailableError {
    return new EngineUnavailableError(`livehub: publish to channel '${w.channel}' failed: not sent, the publishes before it (in order on this node) held it past the commandTimeout (${this.options.commandTimeout} ms); PostgreSQL at ${this.options.host} is slow or away; retry later`, this.options.host);
  }
}

/** True when PostgreSQL answered with an error of the statement (rolled back), not of the connection. */
function answered(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  return isServerError(cause) && !/^(08|57P0)/.test(cause.code);
}

/** The lane of a channel: a stable hash of its name (FNV-1a). */
function laneOf(channel: string, lanes: number): number {
  if (lanes === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < channel.length; i++) h = Math.imul(h ^ channel.charCodeAt(i), 0x01000193);
  return (h >>> 0) % lanes;
}
