/**
 * How the PostgreSQL engine's own publishes wake other nodes: after their commit, in a statement of
 * its own, rather than by a NOTIFY inside the publishing transaction.
 *
 * A transaction that sends a notification holds PostgreSQL's cluster-wide notification lock from
 * just before its commit until the commit is flushed to disk, so every notifying commit on the
 * server (each publish lane of every node, and any other application's) waits for the disk flush of
 * the one before it. The engine's batches therefore call `<schema>.append` (the publish without the
 * notification), and once a batch committed, one `pg_notify` statement per turn names its channels,
 * committed without waiting for the disk (`synchronous_commit` off for that transaction only: a lost
 * wake-up costs at most one poll interval, never a message). `<schema>.publish`, for the app's own
 * transactions, triggers and other languages, still notifies inside the caller's transaction: only
 * the caller knows when it commits.
 */

export const WAKE_MIGRATION = {
  version: 4,
  name: 'publish without waking',
  sql: `
-- The message appended as {s}.publish does, without the notification (the engine wakes nodes after
-- its own commit). Offsets are taken under the channel's row lock, so they become visible in order.
create function {s}.append(
  p_channel text, p_type text, p_data text,
  p_size integer default null, p_ttl_ms bigint default null,
  p_tags jsonb default null, p_publisher jsonb default null, p_trace jsonb default null,
  p_key text default null, p_key_ttl_ms bigint default null,
  out "offset" bigint, out epoch text, out duplicate boolean)
language plpgsql as $$
declare
  v_ttl bigint;
begin
  duplicate := false;
  if p_key is not null then
    perform pg_advisory_xact_lock(hashtextextended('{s}.idempotency:' || p_key, 0));
    select i."offset", i.epoch into "offset", epoch from {s}.idempotency i where i.key = p_key and i.expires_at > clock_timestamp();
    if found then duplicate := true; return; end if;
  end if;
  insert into {s}.channels as c (name, epoch, "offset", history_size, history_ttl_ms)
    values (p_channel, substr(md5(random()::text || clock_timestamp()::text), 1, 16), 1, coalesce(p_size, 100), coalesce(p_ttl_ms, 300000))
    on conflict (name) do update set "offset" = c."offset" + 1,
      history_size = coalesce(p_size, c.history_size), history_ttl_ms = coalesce(p_ttl_ms, c.history_ttl_ms), updated_at = now()
    returning c."offset", c.epoch, c.history_ttl_ms into "offset", epoch, v_ttl;
  insert into {s}.messages (channel, "offset", epoch, type, data, tags, publisher, trace, expires_at)
    values (p_channel, "offset", epoch, p_type, p_data, p_tags, p_publisher, p_trace, clock_timestamp() + v_ttl * interval '1 millisecond');
  if p_key is not null then
    insert into {s}.idempotency as i (key, channel, "offset", epoch, expires_at)
      values (p_key, p_channel, "offset", epoch, clock_timestamp() + p_key_ttl_ms * interval '1 millisecond')
      on conflict (key) do update set channel = excluded.channel, "offset" = excluded."offset", epoch = excluded.epoch, expires_at = excluded.expires_at;
  end if;
end $$;

-- Publishes in the caller's transaction: {s}.append, then a wake-up hint sent at commit (nodes read
-- new messages by offset whether or not it arrives).
create or replace function {s}.publish(
  p_channel text, p_type text, p_data text,
  p_size integer default null, p_ttl_ms bigint default null,
  p_tags jsonb default null, p_publisher jsonb default null, p_trace jsonb default null,
  p_key text default null, p_key_ttl_ms bigint default null,
  out "offset" bigint, out epoch text, out duplicate boolean)
language plpgsql as $$
begin
  select a."offset", a.epoch, a.duplicate into "offset", epoch, duplicate
    from {s}.append(p_channel, p_type, p_data, p_size, p_ttl_ms, p_tags, p_publisher, p_trace, p_key, p_key_ttl_ms) a;
  if not duplicate then
    perform pg_notify('{s}', case when octet_length(p_channel) < 7000 then p_channel else '' end);
  end if;
end $$;
`,
};

/** Runs one statement on a pooled connection (the engine's `run`). */
export type WakeStatement = (what: string, text: string, values: unknown[]) => Promise<unknown>;

/**
 * Sends the wake-ups of committed publishes: the channels named while a wake-up statement is in
 * flight go together in the next one. A failed statement is only logged (by the engine's `run`):
 * the nodes' periodic look delivers those messages.
 */
export class Waker {
  private readonly pending = new Set<string>();
  private busy = false;
  private readonly text: string;

  constructor(schema: string, private readonly run: WakeStatement) {
    this.text = `select set_config('synchronous_commit', 'off', true), pg_notify('${schema}', case when octet_length(c) < 7000 then c else '' end)
      from unnest($1::text[]) as c`;
  }

  /** Wakes the nodes following these channels (their publishes have committed). */
  wake(channels: Iterable<string>): void {
    for (const channel of channels) this.pending.add(channel);
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.busy || this.pending.size === 0) return;
    this.busy = true;
    const channels = [...this.pending];
    this.pending.clear();
    try {
      await this.run(`a wake-up of the nodes following ${channels.length === 1 ? `channel '${channels[0]}'` : `${channels.length} channels`}`, this.text, [channels]);
    } catch {
      // Logged by run; the nodes' periodic look delivers these messages.
    } finally {
      this.busy = false;
      void this.flush();
    }
  }
}
