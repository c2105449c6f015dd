import pg from 'pg';
import { checkKnownOptions } from '../options-check.js';
import type {
  Engine, EngineHandlers, EngineRecords, HistoryPolicy, HistoryResult, PresenceEntry, PublishOptions, PublishResult, StreamPosition,
} from './engine.js';
import { PublishBatcher } from './postgres-batch.js';
import { Follower } from './postgres-follow.js';
import { PatternFollower } from './postgres-patterns.js';
import { postgresRecords } from './records.js';
import { PostgresHealth } from './postgres-health.js';
import { Listener } from './postgres-listen.js';
import { migrate } from './postgres-migrate.js';
import { acknowledgedInPostgres, acknowledgeInPostgres } from './postgres-acks.js';
import type { AcknowledgedState, Acknowledgement } from './acknowledgements.js';
import { readPage, type Page, type PageOptions } from './postgres-page.js';
import { HistoryReads } from './postgres-reads.js';
import { OrderedQueues } from './postgres-queue.js';
import { extraColumns } from './postgres-rows.js';
import { SCHEMA_NAME } from './postgres-sql.js';
import { EngineUnavailableError } from './redis-health.js';

/**
 * The PostgreSQL engine: livehub on several nodes with PostgreSQL alone, history that survives a
 * restart of every node, and publishes inside the app's own transactions (`publishInTransaction`).
 *
 * Built on `pg` (node-postgres) rather than `postgres`: its `Pool` bounds connections and the wait
 * for one, its queries take a per-call timeout, a plain `Client` holds the LISTEN connection, and an
 * app's transaction is a `pg` client that Drizzle's node-postgres driver and most Node apps already
 * use, so the engine and the app can share one pool. (An app on `postgres` publishes through the SQL
 * function `<schema>.publish`; see docs/postgres.md.)
 *
 * How it works (tables: see postgres-sql.ts and livehub/schema):
 * - A publish is one call of the SQL function `<schema>.publish`: the channel's row gets the next
 *   offset under its row lock (so offsets become visible in order), the message is inserted, the
 *   idempotency key claimed, and a notification sent at commit. Publishes made while an earlier one
 *   is in flight go together in one statement and one commit (group commit, postgres-batch.ts);
 *   history reads likewise share one statement (postgres-reads.ts).
 * - Nodes follow each subscribed channel by offset (postgres-follow.ts). Notifications (LISTEN on a
 *   connection of its own) only wake them; every `pollInterval` each node looks anyway, so delivery is
 *   correct with no notification at all, and no payload limit applies.
 * - Presence rows expire unless refreshed (the hub's heartbeats refresh them); nodes register in
 *   `<schema>.nodes` every `heartbeat` ms, so `send` knows whether its target runs.
 * - History is kept per channel by count and age; a background `trim` deletes, in batches, what is
 *   past both the policy and `catchUpWindow`. Publishes never wait for it.
 *
 * Deadlines: every call settles within about `commandTimeout` (the wait for a pooled connection and
 * the statement together): `unavailable` when nothing was done, `outcome_unknown` for a publish sent
 * that got no answer (retry with the same `idempotencyKey`). Logged through the hub's logger with the
 * host and cause (`context.code`): `engine_unreachable`, `engine_timeout`, `engine_refused`,
 * `engine_disconnected` (the listening connection), `engine_ready`, `engine_reset`.
 */
export interface PostgresEngineOptions {
  /** postgres:// URL. @default process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' */
  connectionString?: string;
  /** The schema holding the engine's tables and functions (a plain lower-case name). @default 'livehub' */
  schema?: string;
  /** Connections the pool holds at most (the listening connection is one more). @default 10 */
  poolSize?: number;
  /** Milliseconds a call may take, waiting for a connection included, before it rejects. @default 3000 */
  commandTimeout?: number;
  /** Milliseconds between looks at every subscribed channel, notification or not. @default 1000 */
  pollInterval?: number;
  /** Milliseconds between a node's heartbeats in `<schema>.nodes` (it counts as gone after 3 missed). @default 5000 */
  heartbeat?: number;
  /** Applies the engine's migrations at `start()`. Turn off to apply them yourself. @default true */
  migrate?: boolean;
  /** Milliseconds between trims of history past its policy. @default 10000 */
  trimInterval?: number;
  /** Messages deleted at most per trim statement. @default 5000 */
  trimBatch?: number;
  /** Milliseconds a message stays readable for delivery to nodes, whatever the history policy. @default 60000 */
  catchUpWindow?: number;
  /**
   * Milliseconds that calls made while the node is starting wait for its migrations and first
   * connection; after that, a database that is away fails calls at once.
   * @default 10000
   */
  startupWait?: number;
  /** Extra `pg` pool options (ssl, user, password…). */
  pg?: pg.PoolConfig;
}

const OPTIONS: ReadonlyArray<keyof PostgresEngineOptions> = [
  'connectionString', 'schema', 'poolSize', 'commandTimeout', 'pollInterval', 'heartbeat', 'migrate', 'trimInterval', 'trimBatch', 'catchUpWindow', 'startupWait', 'pg',
];

export class PostgresEngine implements Engine {
  /** The pool the engine queries through (an app may share it for its own transactions). */
  readonly pool: pg.Pool;
  /** The schema of the engine's tables and functions. */
  readonly schema: string;
  /** `host:port` of PostgreSQL, as messages name it. */
  readonly host: string;
  private readonly health: PostgresHealth;
  private readonly follower: Follower;
  private readonly patterns: PatternFollower;
  /** Records (MQTT persistent sessions) shared by every node: records.ts. */
  readonly records: EngineRecords;
  private readonly listener: Listener;
  private readonly commandTimeout: number;
  private readonly options: PostgresEngineOptions;
  private handlers: EngineHandlers | null = null;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private nodeQueue: Promise<void> = Promise.resolve();
  /** This node's node messages, in call order. */
  private readonly ordered = new OrderedQueues();
  /** Publishes, grouped into one statement per turn (group commit), in call order per channel. */
  private readonly batches: PublishBatcher;
  /** History reads, grouped into one statement per turn. */
  private readonly reads: HistoryReads;
  /** Settles once `start()` has applied the migrations (or after `startupWait`); calls wait for it. */
  private startup: Promise<void> | null = null;
  /** When `startup` settled: calls made before it count their deadline from then. */
  private startedAt = 0;
  private migrated = false;
  private migrating = false;

  constructor(options: PostgresEngineOptions = {}) {
    checkKnownOptions(options, OPTIONS, 'new PostgresEngine()');
    this.options = options;
    const schema = options.schema ?? 'livehub';
    if (!SCHEMA_NAME.test(schema)) throw new TypeError(`livehub: new PostgresEngine(): schema '${schema}' must be a plain lower-case name (letters, digits, _; at most 48)`);
    this.schema = schema;
    this.commandTimeout = options.commandTimeout ?? 3000;
    const config: pg.PoolConfig = {
      connectionString: options.connectionString ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: this.commandTimeout,
      keepAlive: true,
      ...options.pg,
    };
    this.pool = new pg.Pool(config);
    const params = new URL(String(config.connectionString).replace(/^postgres(ql)?:/, 'http:'));
    this.host = `${config.host ?? (params.hostname || '127.0.0.1')}:${config.port ?? (params.port || 5432)}`;
    this.health = new PostgresHealth(this.host, this.commandTimeout);
    // An idle pooled connection that breaks is dropped by the pool; it is reported, never thrown.
    this.pool.on('error', (err) => this.health.lost('pooled', err));
    this.batches = new PublishBatcher({ schema, host: this.host, commandTimeout: this.commandTimeout, lanes: Math.min(4, Math.max(1, config.max! - 1)) },
      (what, text, values, called) => this.run(what, text, values, true, called));
    this.reads = new HistoryReads(schema, (what, text, values) => this.run(what, text, values));
    this.follower = new Follower(schema, (what, text, values) => this.run(what, text, values), () => this.handlers);
    this.records = postgresRecords(schema, (what, text, values, write) => this.run(what, text, values, write));
    this.patterns = new PatternFollower(schema, (what, text, values) => this.run(what, text, values), this.follower);
    this.listener = new Listener(config, schema, this.health, this.commandTimeout, {
      publication: (channel) => { this.follower.wake(channel); this.patterns.notified(channel); },
      node: (payload) => this.nodeMessage(payload),
      connected: () => this.follower.wake(),
    });
  }

  async start(handlers: EngineHandlers): Promise<void> {
    this.handlers = handlers;
    this.health.log = handlers.log;
    let started = () => {};
    this.startup = new Promise<void>((resolve) => { started = () => { this.startedAt ||= Date.now(); resolve(); }; });
    const timer = setTimeout(started, this.options.startupWait ?? 10_000);
    timer.unref();
    // Waits for the migrations and the listening connection, or `startupWait` for a database that
    // is away (then they go on in the background, and the poll timer retries failed migrations).
    const ready = (async () => {
      await this.ensureMigrated();
      await this.listener.start();
      await this.beat(true).catch(() => {});
    })();
    await Promise.race([ready, this.startup]);
    clearTimeout(timer);
    started();
    const every = (ms: number, run: () => unknown) => {
      const timer = setInterval(run, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.pollInterval ?? 1000, () => {
      if (!this.migrated) void this.ensureMigrated();
      this.follower.wake();
      void this.patterns.discover();
      void this.listener.check();
    });
    every(this.options.heartbeat ?? 5000, () => void this.beat().catch(() => {}));
    every(this.options.trimInterval ?? 10_000, () => void this.trim().catch(() => {}));
  }

  /** Applies the engine's SQL migrations that the database does not have yet (idempotent, safe on every node). */
  async migrate(): Promise<void> {
    await migrate(this.pool, this.schema, Math.max(this.commandTimeout, 60_000));
    this.migrated = true;
  }

  /** Applies the migrations once (unless the `migrate` option is off), logging a failure; retried by the poll timer. */
  private async ensureMigrated(): Promise<void> {
    if (this.migrated || this.migrating) return;
    if (this.options.migrate === false) { this.migrated = true; return; }
    this.migrating = true;
    try {
      await this.migrate();
    } catch (err) {
      this.handlers?.log?.('error', `postgres:${this.host}:migrate`, { code: 'engine_migrate_failed', err, host: this.host },
        `livehub: could not apply the PostgreSQL engine's migrations to schema '${this.schema}' at ${this.host} (${err instanceof Error ? err.message : String(err)}); retrying; engine calls fail until they are applied`);
    } finally {
      this.migrating = false;
    }
  }

  async publish(channel: string, type: string, dataJson: string, policy: HistoryPolicy, options: PublishOptions = {}): Promise<PublishResult> {
    const { idempotencyKey, idempotencyTtl } = options;
    if (idempotencyKey !== undefined && !(typeof idempotencyTtl === 'number' && idempotencyTtl >= 1)) {
      throw new TypeError('livehub: publish with an idempotencyKey needs idempotencyTtl, a number of milliseconds >= 1');
    }
    const called = Date.now();
    const values = [channel, type, dataJson, policy.size, policy.ttl, ...extraColumns(options), idempotencyKey ?? null, idempotencyKey === undefined ? null : Math.ceil(idempotencyTtl!)];
    const row = await this.batches.publish(channel, values, called);
    const result: PublishResult = { offset: Number(row.offset), epoch: row.epoch };
    if (row.duplicate) result.duplicate = true;
    return result;
  }

  async subscribe(channel: string): Promise<void> {
    this.patterns.exact.add(channel);
    if (this.follower.tracked.has(channel)) return;
    this.follower.tracked.set(channel, null);
    try {
      const { position } = await this.history(channel, null);
      if (this.follower.tracked.get(channel) === null) this.follower.follow(channel, position);
    } catch (err) {
      this.follower.tracked.delete(channel);
      throw err;
    }
  }

  unsubscribe(channel: string): void {
    if (!this.patterns.keeps(channel)) this.follower.tracked.delete(channel);
  }

  /** Follows the channels the pattern matches, as they are published to (postgres-patterns.ts). */
  async subscribePattern(pattern: string): Promise<void> {
    await this.patterns.add(pattern);
  }

  unsubscribePattern(pattern: string): void {
    this.patterns.remove(pattern);
  }

  async history(channel: string, since: StreamPosition | null): Promise<HistoryResult> {
    return this.reads.read(channel, since);
  }

  /**
   * A page of the channel's stored history by offset, forwards (`after`) or backwards (`before`),
   * oldest first; `{ limit }` alone: the latest. Each page is one index range read, however many
   * messages are stored. An app's own reads (an archive view, an audit), not part of the engine contract.
   */
  async page(channel: string, options?: PageOptions): Promise<Page> {
    return readPage((what, text, values) => this.run(what, text, values), this.schema, channel, options);
  }

  async addPresence(channel: string, entry: PresenceEntry, ttl: number): Promise<boolean> {
    const [row] = await this.run<{ first: boolean }>(`presence update of channel '${channel}'`,
      `select ${this.schema}.presence_add($1, $2, $3, $4, $5::jsonb, $6) as first`,
      [channel, entry.clientId, entry.userId, entry.status, entry.info === undefined ? null : JSON.stringify(entry.info), Math.ceil(ttl)]);
    return row!.first;
  }

  async removePresence(channel: string, clientId: string, userId: string): Promise<boolean> {
    const [row] = await this.run<{ left: boolean }>(`presence removal in channel '${channel}'`,
      `select ${this.schema}.presence_remove($1, $2, $3) as left`, [channel, clientId, userId]);
    return row!.left;
  }

  async presence(channel: string): Promise<PresenceEntry[]> {
    const rows = await this.run<{ client_id: string; user_id: string; status: PresenceEntry['status']; info: unknown }>(`presence of channel '${channel}'`,
      `select client_id, user_id, status, info from ${this.schema}.presence where channel = $1 and expires_at > clock_timestamp()`, [channel]);
    return rows.map((r) => {
      const entry: PresenceEntry = { clientId: r.client_id, userId: r.user_id, status: r.status };
      if (r.info !== null) entry.info = r.info;
      return entry;
    });
  }

  async sweepPresence(channel: string): Promise<string[]> {
    const rows = await this.run<{ user: string }>(`presence sweep of channel '${channel}'`,
      `select ${this.schema}.presence_sweep($1) as "user"`, [channel]);
    return rows.map((r) => r.user);
  }

  async send(node: string | null, message: string): Promise<boolean> {
    const called = Date.now();
    const [row] = await this.ordered.run('send', () => this.run<{ sent: boolean }>(node === null ? 'a message to every node' : `a message to node '${node}'`,
      `select ${this.schema}.send($1, $2) as sent`, [node, message], false, called));
    return row!.sent;
  }

  async acknowledge(user: string, channel: string, position: StreamPosition): Promise<Acknowledgement> {
    return acknowledgeInPostgres((what, text, values) => this.run(what, text, values), this.schema, user, channel, position);
  }

  async acknowledged(user: string, channel: string): Promise<AcknowledgedState> {
    return acknowledgedInPostgres((what, text, values) => this.run(what, text, values), this.schema, user, channel);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.follower.tracked.clear();
    const node = this.handlers?.node;
    this.handlers = null;
    await this.listener.stop();
    if (node !== undefined) {
      await this.pool.query({ text: `delete from ${this.schema}.nodes where id = $1`, values: [node], query_timeout: 500 } as pg.QueryConfig).catch(() => {});
    }
    this.health.closed = true;
    await Promise.race([this.pool.end(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]).catch(() => {});
  }

  /** Deletes up to `trimBatch` messages past their channel's history; resolves with how many. */
  async trim(): Promise<number> {
    const [row] = await this.run<{ deleted: number }>('a history trim', `select ${this.schema}.trim($1, $2) as deleted`,
      [this.options.trimBatch ?? 5000, this.options.catchUpWindow ?? 60_000]);
    await this.run('a trim of expired records', `delete from ${this.schema}.records where expires_at <= clock_timestamp()`, [], true);
    return row!.deleted;
  }

  /** Registers (or refreshes) this node in `<schema>.nodes`. */
  private async beat(starting = false): Promise<void> {
    const node = this.handlers?.node;
    if (node === undefined) return;
    const ttl = 3 * (this.options.heartbeat ?? 5000);
    await this.run('a node heartbeat',
      `insert into ${this.schema}.nodes (id, expires_at) values ($1, clock_timestamp() + $2 * interval '1 millisecond')
       on conflict (id) do update set expires_at = excluded.expires_at`, [node, ttl], false, Date.now(), starting);
  }

  /** Hands a node message to the hub, in the order they came (a stored body is read first). */
  private nodeMessage(payload: string): void {
    let target: string | null;
    let body: string | null;
    let id: number | undefined;
    try {
      [target, body, id] = JSON.parse(payload) as [string | null, string | null, number?];
    } catch {
      return;
    }
    const me = this.handlers?.node;
    if (target !== null && target !== me) return;
    this.nodeQueue = this.nodeQueue.then(async () => {
      if (body === null && id !== undefined) {
        const [row] = await this.run<{ body: string }>('a read of a node message', `select body from ${this.schema}.node_messages where id = $1`, [id]);
        body = row?.body ?? null;
      }
      if (body !== null) this.handlers?.message(body);
    }).catch(() => {});
  }

  /**
   * Runs one statement on a pooled connection within the deadline. `write`: a failure after the
   * statement was sent without an answer is `outcome_unknown`.
   */
  private async run<R>(what: string, text: string, values: unknown[], write = false, called = Date.now(), starting = false): Promise<R[]> {
    if (this.closed) throw new EngineUnavailableError(`livehub: ${what} failed: the engine is closed (engine.close() was called)`, this.host);
    if (this.startup && !starting) await this.startup;
    // The deadline runs from the call: one that waited behind earlier calls of its channel is not sent late.
    const start = Math.max(called, this.startedAt);
    if (Date.now() - start >= this.commandTimeout) {
      throw new EngineUnavailableError(`livehub: ${what} failed: not sent, the calls before it (in order on this node) held it past the commandTimeout (${this.commandTimeout} ms); PostgreSQL at ${this.host} is slow or away; retry later`, this.host);
    }
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      const max = this.pool.options.max ?? 10;
      if (this.pool.totalCount >= max && /timeout/i.test(String((err as Error)?.message))) {
        const message = `no connection to PostgreSQL at ${this.host} came free within ${this.commandTimeout} ms (all ${max} of the pool's connections are busy); raise the engine's poolSize or look for slow statements`;
        this.handlers?.log?.('warn', `postgres:${this.host}:pool`, { code: 'engine_pool_exhausted', host: this.host, poolSize: max }, `livehub: ${message}`);
        throw new EngineUnavailableError(`livehub: ${what} failed: ${message}`, this.host, err);
      }
      throw this.health.failure(what, err, false, write);
    }
    const left = Math.max(this.commandTimeout - (Date.now() - start), Math.min(250, this.commandTimeout));
    // A connection closed by the server while checked out fails its query; its 'error' event is not thrown.
    const ignore = () => {};
    client.on('error', ignore);
    try {
      const result = await client.query({ text, values, query_timeout: left } as pg.QueryConfig);
      client.off('error', ignore);
      client.release();
      this.health.ok();
      return result.rows as R[];
    } catch (err) {
      client.off('error', ignore);
      // A connection that timed out or broke is closed, never handed out again.
      client.release(err instanceof Error ? err : true);
      throw this.health.failure(what, err, true, write);
    }
  }
}

/** Compile-time check that PostgresEngine is an Engine. */
export const postgresEngineConforms: new () => Engine = PostgresEngine;
