/**
 * livehub/schema: the PostgreSQL engine's tables as a Drizzle schema, for an app's own queries and
 * migrations (drizzle-kit), and `publishWithDrizzle`, a publish inside a Drizzle transaction.
 * The engine's own SQL migrations (livehub/postgres `MIGRATIONS`, applied by `engine.migrate()`)
 * create the same tables; an app lets one of the two own them.
 *
 * ```ts
 * import { messages, publishWithDrizzle } from 'livehub/schema';
 * await db.transaction(async (tx) => {
 *   await tx.insert(orders).values(order);
 *   await publishWithDrizzle(tx, 'orders', 'created', order);   // delivered if and only if this commits
 * });
 * ```
 */
import { sql, type SQLWrapper } from 'drizzle-orm';
import { bigint, bigserial, index, integer, jsonb, pgSchema, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import type { PublishResult } from '../engine/engine.js';
import { preparePublish, publishResult, type TransactionPublishOptions } from '../engine/postgres-transaction.js';

export type { TransactionPublishOptions };

const time = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** The engine's tables in schema `name` (the engine's `schema` option). */
export function livehubTables<N extends string>(name: N) {
  const schema = pgSchema(name);
  return {
    schema,
    /** Each channel's stream: its epoch, last offset and history policy. */
    channels: schema.table('channels', {
      name: text('name').primaryKey(),
      epoch: text('epoch').notNull(),
      offset: bigint('offset', { mode: 'number' }).notNull().default(0),
      historySize: integer('history_size').notNull().default(100),
      historyTtlMs: bigint('history_ttl_ms', { mode: 'number' }).notNull().default(300000),
      updatedAt: time('updated_at').notNull().defaultNow(),
    }),
    /** The publications, by channel and offset: `data` is the JSON text as published. */
    messages: schema.table('messages', {
      channel: text('channel').notNull(),
      offset: bigint('offset', { mode: 'number' }).notNull(),
      epoch: text('epoch').notNull(),
      type: text('type').notNull(),
      data: text('data').notNull(),
      tags: jsonb('tags').$type<Record<string, string>>(),
      publisher: jsonb('publisher').$type<{ user?: string; client: string; echo?: false }>(),
      trace: jsonb('trace').$type<{ ts: number; tp?: string }>(),
      createdAt: time('created_at').notNull().defaultNow(),
      expiresAt: time('expires_at').notNull(),
    }, (t) => [primaryKey({ columns: [t.channel, t.offset] }), index('messages_created_at').on(t.createdAt)]),
    /** Connections present in a channel, until `expiresAt` unless refreshed. */
    presenceRecords: schema.table('presence', {
      channel: text('channel').notNull(),
      clientId: text('client_id').notNull(),
      userId: text('user_id').notNull(),
      status: text('status').notNull(),
      info: jsonb('info'),
      expiresAt: time('expires_at').notNull(),
    }, (t) => [primaryKey({ columns: [t.channel, t.clientId] })]),
    /** Claimed idempotency keys and the position of the publish that claimed each. */
    idempotency: schema.table('idempotency', {
      key: text('key').primaryKey(),
      channel: text('channel').notNull(),
      offset: bigint('offset', { mode: 'number' }).notNull(),
      epoch: text('epoch').notNull(),
      expiresAt: time('expires_at').notNull(),
    }),
    /** Running nodes, refreshed by their heartbeat. */
    nodes: schema.table('nodes', {
      id: text('id').primaryKey(),
      expiresAt: time('expires_at').notNull(),
    }),
    /** Node messages too large for a notification. */
    nodeMessages: schema.table('node_messages', {
      id: bigserial('id', { mode: 'number' }).primaryKey(),
      body: text('body').notNull(),
      createdAt: time('created_at').notNull().defaultNow(),
    }),
    /** Records every node reads until they expire (MQTT persistent sessions of devices that are away). */
    records: schema.table('records', {
      key: text('key').primaryKey(),
      value: text('value').notNull(),
      expiresAt: time('expires_at').notNull(),
    }, (t) => [index('records_expires_at').on(t.expiresAt)]),
    /** Each user's acknowledged position in a channel (acknowledged streams: the unread count is the head minus it). */
    acknowledgements: schema.table('acknowledgements', {
      userId: text('user_id').notNull(),
      channel: text('channel').notNull(),
      offset: bigint('offset', { mode: 'number' }).notNull(),
      epoch: text('epoch').notNull(),
      updatedAt: time('updated_at').notNull().defaultNow(),
    }, (t) => [primaryKey({ columns: [t.userId, t.channel] })]),
    /** The engine's migrations applied to this schema. */
    migrations: schema.table('migrations', {
      version: integer('version').primaryKey(),
      name: text('name').notNull(),
      appliedAt: time('applied_at').notNull().defaultNow(),
    }),
  };
}

const tables = livehubTables('livehub');
/** The tables in the default schema, `livehub`. */
export const { schema: livehub, channels, messages, presenceRecords, idempotency, nodes, nodeMessages, acknowledgements, records, migrations } = tables;

/** A Drizzle database or transaction (`db.transaction(async (tx) => …)`'s `tx`). */
export interface DrizzleExecutor {
  execute(query: SQLWrapper): Promise<unknown>;
}

/**
 * Publishes `data` on `channel` inside the Drizzle transaction `tx`: it exists if and only if the
 * transaction commits, and is delivered after the commit in offset order. Resolves with its position.
 */
export async function publishWithDrizzle(tx: DrizzleExecutor, channel: string, type: string, data: unknown, options?: TransactionPublishOptions): Promise<PublishResult> {
  if (tx === null || typeof tx !== 'object' || typeof tx.execute !== 'function') {
    throw new TypeError('livehub: publishWithDrizzle needs a Drizzle transaction or database (something with execute())');
  }
  const { schema, args: a } = preparePublish(channel, type, data, options, 'publishWithDrizzle');
  const result = await tx.execute(sql`select * from ${sql.raw(schema)}.publish(${a[0]}, ${a[1]}, ${a[2]}, ${a[3]}::integer, ${a[4]}::bigint,
    ${a[5]}::jsonb, ${a[6]}::jsonb, ${a[7]}::jsonb, ${a[8]}::text, ${a[9]}::bigint)`);
  // node-postgres answers { rows }, postgres.js an array of rows.
  const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
  return publishResult(rows[0]);
}
