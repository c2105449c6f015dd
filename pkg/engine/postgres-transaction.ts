import { checkKnownOptions } from '../options-check.js';
import { isValidChannel, isValidType } from '../protocol/index.js';
import type { PublishResult } from './engine.js';
import { SCHEMA_NAME } from './postgres-sql.js';

/**
 * Publishing inside the app's own transaction: the message is written by the SQL function
 * `<schema>.publish` on the app's connection, so it exists if and only if the transaction commits.
 * Every node then delivers it after the commit, in offset order (nodes read messages by offset; the
 * notification that wakes them is sent at commit). The channel's row stays locked until the
 * transaction ends, so other publishes to the same channel wait for it: keep such transactions short.
 */

/** Options of a publish inside a transaction. */
export interface TransactionPublishOptions {
  /** The engine's schema. @default 'livehub' */
  schema?: string;
  /** The channel's history policy from now on; absent: the channel's current one (100 messages, 5 minutes for a new channel). */
  history?: { size: number; ttl: number };
  /** Publication tags (string values), as `hub.publish`'s. */
  tags?: Record<string, string>;
  /** Publishes once per key for `idempotencyTtl` ms: a repeat publishes nothing and answers the first position. */
  idempotencyKey?: string;
  /** Milliseconds the idempotency key is remembered. Required with `idempotencyKey`. */
  idempotencyTtl?: number;
}

const OPTIONS: ReadonlyArray<keyof TransactionPublishOptions> = ['schema', 'history', 'tags', 'idempotencyKey', 'idempotencyTtl'];

/** A `pg` client (a `PoolClient` or `Client` between BEGIN and COMMIT), or anything with its `query`. */
export interface QueryClient {
  query(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/** The checked arguments of `<schema>.publish`, in its order, and the schema. */
export interface PreparedPublish {
  schema: string;
  args: [string, string, string, number | null, number | null, string | null, null, string, string | null, number | null];
}

/** Checks a transactional publish's arguments, throwing a TypeError naming what is wrong. */
export function preparePublish(channel: string, type: string, data: unknown, options: TransactionPublishOptions = {}, where = 'publishInTransaction'): PreparedPublish {
  checkKnownOptions(options, OPTIONS, where);
  const schema = options.schema ?? 'livehub';
  if (!SCHEMA_NAME.test(schema)) throw new TypeError(`livehub: ${where}: schema '${schema}' must be a plain lower-case name`);
  if (!isValidChannel(channel)) throw new TypeError(`livehub: ${where}: '${String(channel)}' is not a valid channel name`);
  if (!isValidType(type)) throw new TypeError(`livehub: ${where}: '${String(type)}' is not a valid message type`);
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError(`livehub: ${where}: the data of '${type}' on '${channel}' cannot be sent as JSON`);
  const { history, tags, idempotencyKey, idempotencyTtl } = options;
  if (history !== undefined && !(Number.isInteger(history.size) && history.size >= 0 && Number.isInteger(history.ttl) && history.ttl > 0)) {
    throw new TypeError(`livehub: ${where}: history must be { size: a whole number, ttl: a positive number of milliseconds }`);
  }
  if (idempotencyKey !== undefined && !(typeof idempotencyTtl === 'number' && idempotencyTtl >= 1)) {
    throw new TypeError(`livehub: ${where}: an idempotencyKey needs idempotencyTtl, a number of milliseconds >= 1`);
  }
  return {
    schema,
    args: [
      channel, type, json, history?.size ?? null, history?.ttl ?? null,
      tags === undefined ? null : JSON.stringify(tags), null, JSON.stringify({ ts: Date.now() }),
      idempotencyKey ?? null, idempotencyKey === undefined ? null : Math.ceil(idempotencyTtl!),
    ],
  };
}

/** The SQL calling `<schema>.publish` with $1…$10. */
export function publishSql(schema: string): string {
  return `select * from ${schema}.publish($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10)`;
}

/** A `publish` row as the drivers return it. */
export function publishResult(row: unknown): PublishResult {
  const { offset, epoch, duplicate } = row as { offset: string | number; epoch: string; duplicate: boolean };
  const result: PublishResult = { offset: Number(offset), epoch };
  if (duplicate) result.duplicate = true;
  return result;
}

/**
 * Publishes `data` (any JSON value) on `channel` inside the transaction open on `client`, a `pg`
 * client between BEGIN and COMMIT. Resolves with the position it will have once the transaction
 * commits; if it rolls back, nothing was published.
 *
 * ```ts
 * const client = await pool.connect();
 * await client.query('begin');
 * await client.query('insert into orders …');
 * await publishInTransaction(client, 'orders', 'created', order);
 * await client.query('commit');   // subscribers get it now, not before
 * ```
 */
export async function publishInTransaction(client: QueryClient, channel: string, type: string, data: unknown, options?: TransactionPublishOptions): Promise<PublishResult> {
  if (client === null || typeof client !== 'object' || typeof client.query !== 'function') {
    throw new TypeError('livehub: publishInTransaction needs a pg client in a transaction (PoolClient or Client); with Drizzle use publishWithDrizzle from livehub/schema');
  }
  const { schema, args } = preparePublish(channel, type, data, options);
  const { rows } = await client.query(publishSql(schema), args);
  return publishResult(rows[0]);
}
