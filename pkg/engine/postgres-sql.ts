/**
 * The PostgreSQL engine's schema, as plain SQL migrations the engine applies itself
 * (`PostgresEngine.migrate()`), in order, each once, recorded in `<schema>.migrations`. `{s}` stands
 * for the schema's name (`livehub` by default). livehub/schema describes the same tables for Drizzle.
 *
 * Tables: `channels` (each channel's epoch, last offset and history policy), `messages` (the
 * publications, by channel and offset), `presence` (connections with their expiry), `idempotency`
 * (claimed keys), `nodes` (running nodes and their heartbeat) and `node_messages` (node messages too
 * large for a notification). Functions: `publish` (also for triggers and other languages),
 * `position`, `presence_add`, `presence_remove`, `presence_sweep`, `send` and `trim`. Migration 2
 * (postgres-acks.ts): `acknowledgements` and `acknowledge`.
 */

import { ACKNOWLEDGEMENTS_MIGRATION } from './postgres-acks.js';

export interface Migration {
  version: number;
  name: string;
  /** The SQL, with `{s}` for the schema name. */
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'streams, presence, nodes',
    sql: `
create table {s}.channels (
  name text primary key,
  epoch text not null,
  "offset" bigint not null default 0,
  history_size integer not null default 100,
  history_ttl_ms bigint not null default 300000,
  updated_at timestamptz not null default now()
);
create table {s}.messages (
  channel text not null,
  "offset" bigint not null,
  epoch text not null,
  type text not null,
  data text not null,
  tags jsonb,
  publisher jsonb,
  trace jsonb,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  primary key (channel, "offset")
);
create index messages_created_at on {s}.messages (created_at);
create table {s}.presence (
  channel text not null,
  client_id text not null,
  user_id text not null,
  status text not null,
  info jsonb,
  expires_at timestamptz not null,
  primary key (channel, client_id)
);
create table {s}.idempotency (
  key text primary key,
  channel text not null,
  "offset" bigint not null,
  epoch text not null,
  expires_at timestamptz not null
);
create table {s}.nodes (
  id text primary key,
  expires_at timestamptz not null
);
create table {s}.node_messages (
  id bigserial primary key,
  body text not null,
  created_at timestamptz not null default now()
);

-- The channel's position, creating the channel (with a new epoch) when it has none.
create function {s}.position(p_channel text, out "offset" bigint, out epoch text)
language plpgsql as $$
begin
  select c."offset", c.epoch into "offset", epoch from {s}.channels c where c.name = p_channel;
  if not found then
    insert into {s}.channels (name, epoch) values (p_channel, substr(md5(random()::text || clock_timestamp()::text), 1, 16))
      on conflict (name) do nothing;
    select c."offset", c.epoch into "offset", epoch from {s}.channels c where c.name = p_channel;
  end if;
end $$;

-- Publishes in the caller's transaction: the message exists if and only if it commits. The channel's
-- row lock orders offsets in commit order, so readers that follow offsets never skip one. A null
-- history size or ttl keeps the channel's current policy (100 messages, 5 minutes for a new one).
create function {s}.publish(
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
  -- A wake-up hint only, sent at commit: nodes read new messages by offset whether or not it arrives.
  perform pg_notify('{s}', case when octet_length(p_channel) < 7000 then p_channel else '' end);
end $$;

-- Adds or refreshes a connection; true when it is the user's first live connection in the channel.
create function {s}.presence_add(p_channel text, p_client text, p_user text, p_status text, p_info jsonb, p_ttl_ms bigint)
returns boolean language plpgsql as $$
declare
  v_known boolean;
  v_other boolean;
begin
  perform pg_advisory_xact_lock(hashtextextended('{s}.presence:' || p_channel, 0));
  select exists(select 1 from {s}.presence where channel = p_channel and client_id = p_client) into v_known;
  select exists(select 1 from {s}.presence where channel = p_channel and user_id = p_user and client_id <> p_client and expires_at > clock_timestamp()) into v_other;
  insert into {s}.presence (channel, client_id, user_id, status, info, expires_at)
    values (p_channel, p_client, p_user, p_status, p_info, clock_timestamp() + p_ttl_ms * interval '1 millisecond')
    on conflict (channel, client_id) do update set user_id = excluded.user_id, status = excluded.status, info = excluded.info, expires_at = excluded.expires_at;
  return not v_known and not v_other;
end $$;

-- Removes a connection; true when its user has no live connection left in the channel.
create function {s}.presence_remove(p_channel text, p_client text, p_user text)
returns boolean language plpgsql as $$
begin
  perform pg_advisory_xact_lock(hashtextextended('{s}.presence:' || p_channel, 0));
  delete from {s}.presence where channel = p_channel and client_id = p_client;
  if not found then return false; end if;
  return not exists(select 1 from {s}.presence where channel = p_channel and user_id = p_user and expires_at > clock_timestamp());
end $$;

-- Removes expired connections; returns the users left with none (each to one caller only).
create function {s}.presence_sweep(p_channel text)
returns setof text language plpgsql as $$
begin
  perform pg_advisory_xact_lock(hashtextextended('{s}.presence:' || p_channel, 0));
  return query
    with gone as (delete from {s}.presence where channel = p_channel and expires_at <= clock_timestamp() returning user_id)
    select distinct g.user_id from gone g
    where not exists (select 1 from {s}.presence p where p.channel = p_channel and p.user_id = g.user_id and p.expires_at > clock_timestamp());
end $$;

-- A node message to one node (p_target) or to every node (null); true when such a node is running.
-- Carried by a notification; a body too large for one is stored and the notification names its row.
create function {s}.send(p_target text, p_body text)
returns boolean language plpgsql as $$
declare
  v_payload text := json_build_array(p_target, p_body)::text;
  v_id bigint;
begin
  if not exists(select 1 from {s}.nodes where (p_target is null or id = p_target) and expires_at > clock_timestamp()) then
    return false;
  end if;
  if octet_length(v_payload) >= 7900 then
    insert into {s}.node_messages (body) values (p_body) returning id into v_id;
    v_payload := json_build_array(p_target, null, v_id)::text;
  end if;
  perform pg_notify('{s}_nodes', v_payload);
  return true;
end $$;

-- Deletes up to p_batch messages past their channel's history (by count or age) and older than
-- p_grace_ms (so a node a little behind still reads them), plus expired keys, nodes and stored node
-- messages. Publishes never wait for it: it locks only the rows it deletes.
create function {s}.trim(p_batch integer, p_grace_ms bigint)
returns integer language plpgsql as $$
declare
  v_deleted integer;
begin
  delete from {s}.messages m where (m.channel, m."offset") in (
    select m2.channel, m2."offset" from {s}.messages m2 join {s}.channels c on c.name = m2.channel
    where m2.created_at < clock_timestamp() - p_grace_ms * interval '1 millisecond'
      and (m2.expires_at <= clock_timestamp() or m2."offset" <= c."offset" - c.history_size or m2.epoch <> c.epoch)
    limit p_batch
    for update of m2 skip locked);
  get diagnostics v_deleted = row_count;
  delete from {s}.idempotency where expires_at <= clock_timestamp();
  delete from {s}.nodes where expires_at <= clock_timestamp() - interval '1 minute';
  delete from {s}.node_messages where created_at < clock_timestamp() - interval '5 minutes';
  return v_deleted;
end $$;
`,
  },
  ACKNOWLEDGEMENTS_MIGRATION,
  {
    version: 3,
    name: 'records',
    sql: `
create table {s}.records (
  key text primary key,
  value text not null,
  expires_at timestamptz not null
);
create index records_expires_at on {s}.records (expires_at);
-- Nodes with pattern subscriptions look for the channels updated since their last look.
create index channels_updated_at on {s}.channels (updated_at);
`,
  },
];

/** `{s}` replaced by the (already validated) schema name. */
export function render(sql: string, schema: string): string {
  return sql.replaceAll('{s}', schema);
}

/** A schema name the engine accepts: a plain lower-case identifier, so it is never quoted. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;
