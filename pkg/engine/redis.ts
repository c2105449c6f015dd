import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { checkKnownOptions } from '../options-check.js';
import {
  type Engine, type EngineHandlers, type EngineRecords, type HistoryPolicy, type HistoryResult, type PresenceEntry,
  type Publication, type PublishOptions, type PublishResult, type StreamPosition,
} from './engine.js';
import { decodeEntry, extraFields } from './redis-format.js';
import { RedisPatterns } from './redis-patterns.js';
import { redisRecords } from './records.js';
import { describeHost, ENGINE_CLOSED, RedisHealth } from './redis-health.js';
import { ChannelStreams } from './redis-repair.js';
import { acknowledgedInRedis, acknowledgeInRedis } from './redis-acks.js';
import type { AcknowledgedState, Acknowledgement } from './acknowledgements.js';
import { channelsAhead, defineScripts, type Scripts } from './redis-scripts.js';

/**
 * The Redis engine: livehub on several nodes behind any load balancer, no sticky sessions.
 *
 * Kept in Redis, per channel (keys under `prefix`):
 * - `{p}:m:{channel}`, a hash: the stream's epoch `e` and last offset `o`, and each user's
 *   acknowledged offset `a:<user>` (redis-acks.ts);
 * - `{p}:h:{channel}`, a Redis Stream of the last `size` publications (their fields: offset, type,
 *   data, tags, publisher, trace; see redis-format.ts), expiring `ttl` after the last publish;
 * - `{p}:d:{channel}`, the pub/sub channel carrying each publication's fields to the nodes subscribed
 *   (redis-format.ts; a new name, so nodes of versions that published whole JSON payloads on
 *   `{p}:c:{channel}` never take these messages for payloads);
 * - `{p}:idem:{key}`, an idempotency key's `offset epoch`, written by the publish that claimed it;
 * - `{p}:pr:{channel}`, a hash of the channel's presence: connection id → JSON with its user, status,
 *   info and expiry time; nodes refresh their connections' entries, and expired ones (a dead node's)
 *   are swept by whichever node gets there first.
 * A publish is one Lua script: the idempotency key checked, next offset, epoch created if missing,
 * appended to history, published, the key stored; a script that fails stores no key.
 *
 * Node messages (`send`) are plain pub/sub, never stored: `{p}:node:{id}` to one node, `{p}:nodes`
 * to every node; each node subscribes to both when it starts.
 *
 * Each node holds one pub/sub subscription per channel with local subscribers (see
 * `redis-repair.ts` for how missed messages are found and repaired).
 *
 * Deadlines: every call rejects with an `EngineUnavailableError` (`code: 'unavailable'`, naming the
 * host and the cause) rather than wait: at once while Redis is unreachable (commands are not queued),
 * after `commandTimeout` when it does not answer (frozen, overloaded, cut off), in which case the
 * connection is also torn down and reconnected. Only while the node is starting do calls wait for
 * its first connection, for at most `startupWait`. A publish that timed out may still have been
 * applied by Redis: retry it with the same `idempotencyKey` to get its position without a duplicate.
 *
 * Logged through the hub's logger (`context.code`): `engine_unreachable` (warn: cannot connect, with
 * the error), `engine_disconnected` (warn: a connection was lost), `engine_timeout` (warn: Redis did
 * not answer within `commandTimeout`), `engine_pubsub_dead` (warn: the pub/sub connection stopped
 * answering and is replaced), `engine_reset` (warn: a channel's stream could not be repaired; its
 * subscribers get a gap), `engine_repaired` (info: publications missed by this node were recovered
 * from history), `engine_ready` (info: Redis is reachable again), `engine_bad_message` (error: a
 * pub/sub message that could not be read was dropped; its gap is repaired). Each names the host.
 */
export interface RedisEngineOptions {
  /** redis:// URL. @default process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' */
  url?: string;
  /** Key and channel prefix. @default 'livehub' */
  prefix?: string;
  /** Milliseconds the stream metadata (epoch, offset) outlives the last publish. @default 86400000 */
  metaTtl?: number;
  /**
   * Milliseconds between checks that this node has every channel's latest publication and that its
   * pub/sub connection still answers (a missed tail after a reconnect leaves no later message to
   * reveal the gap; a half-dead connection delivers nothing and says nothing).
   * @default 2000
   */
  checkInterval?: number;
  /**
   * Milliseconds Redis has to answer a command before the call rejects with `unavailable` and the
   * connection is replaced. Healthy Redis answers in well under a millisecond and a stall (a fork for
   * a snapshot, a slow script) lasts tens to hundreds; 3 s is far above both, so load never trips it,
   * yet a frozen or cut-off Redis fails publishes well before an HTTP request or a client's heartbeat
   * (25 s) gives up, and a half-dead pub/sub connection is replaced within `checkInterval` + 3 s.
   * @default 3000
   */
  commandTimeout?: number;
  /**
   * Milliseconds that commands issued while the node is starting wait for its first connection to
   * Redis; after that, and whenever Redis is away later, commands fail at once.
   * @default 10000
   */
  startupWait?: number;
  /** Extra ioredis options (both connections). */
  redis?: RedisOptions;
}

const OPTIONS: ReadonlyArray<keyof RedisEngineOptions> = ['url', 'prefix', 'metaTtl', 'checkInterval', 'commandTimeout', 'startupWait', 'redis'];

export class RedisEngine implements Engine {
  readonly commands: Redis;
  readonly subscriber: Redis;
  handlers: EngineHandlers | null = null;
  /** `host:port` of Redis, as messages name it. */
  readonly host: string;
  private readonly prefix: string;
  private readonly metaTtl: number;
  private readonly scripts: Redis & Scripts;
  private readonly health: RedisHealth;
  private readonly streams: ChannelStreams;
  /** Pattern delivery: redis-patterns.ts. */
  private readonly patterns: RedisPatterns;
  /** Records (MQTT persistent sessions) shared by every node: records.ts. */
  readonly records: EngineRecords;
  private closed = false;
  private readonly checker: NodeJS.Timeout;
  private checking = false;
  private readonly startupWait: number;
  /** Settles at the first connection (or after `startupWait`); commands issued before wait for it. */
  private startup: Promise<void> | null = null;

  constructor(options: RedisEngineOptions = {}) {
    checkKnownOptions(options, OPTIONS, 'new RedisEngine()');
    const url = options.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    this.prefix = options.prefix ?? 'livehub';
    this.metaTtl = options.metaTtl ?? 86_400_000;
    this.startupWait = options.startupWait ?? 10_000;
    const commandTimeout = options.commandTimeout ?? 3000;
    const common: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
      commandTimeout,
      connectTimeout: commandTimeout,
      // A command whose caller was already told it failed is not sent again after a reconnect.
      autoResendUnfulfilledCommands: false,
      ...options.redis,
    };
    // socketTimeout: a command written with nothing coming back within the deadline destroys the
    // connection, so a frozen or cut-off Redis is reconnected rather than awaited.
    this.commands = new Redis(url, { socketTimeout: commandTimeout, ...common, lazyConnect: true });
    // The subscriber keeps ioredis's offline queue: it only ever queues SUBSCRIBE/UNSUBSCRIBE (one per
    // channel). No ready check: ioredis sends a SUBSCRIBE made while the connection is being set up at
    // once, and its ready check (INFO) would then fail in subscriber mode and drop the connection,
    // losing what is published meanwhile. Subscriptions are renewed by this engine on each 'ready'
    // (from the channels it tracks, including those whose SUBSCRIBE timed out).
    this.subscriber = new Redis(url, {
      ...common, enableOfflineQueue: true, lazyConnect: true, autoResubscribe: false, enableReadyCheck: false,
    });
    this.scripts = defineScripts(this.commands);
    this.host = describeHost(this.commands);
    this.health = new RedisHealth(this.host, commandTimeout);
    this.health.watch(this.commands, 'commands');
    this.health.watch(this.subscriber, 'pub/sub');
    this.streams = new ChannelStreams(this);
    this.records = redisRecords(this.prefix, (what, run) => this.call(what, run));
    const publications = this.key('d', '');
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel.startsWith(publications)) this.streams.message(channel.slice(publications.length), message);
      else this.nodeMessage(message);
    });
    this.patterns = new RedisPatterns({
      subscriber: this.subscriber, host: this.host, publications, handlers: () => this.handlers,
      tracked: (channel) => this.streams.tracked.has(channel), unavailable: (what, err) => this.health.unavailable(what, err),
    });
    this.subscriber.on('ready', () => {
      this.patterns.ready();
      const channels = [...this.streams.tracked.keys()];
      const keys = [...this.nodeKeys(), ...channels.map((c) => this.key('d', c))];
      if (keys.length > 0) this.subscriber.subscribe(...keys).catch(() => { /* the check finds a dead connection */ });
      if (channels.length === 0) return;
      // Messages published while the subscriber connection was down (or being set up) were missed:
      // catch up every channel, now and once more shortly (the resubscription may take effect after
      // this first read). Channels still learning their position are left to subscribe().
      for (const channel of channels) void this.streams.catchUp(channel);
      setTimeout(() => void this.check(), 1000).unref();
    });
    this.checker = setInterval(() => void this.check(), options.checkInterval ?? 2000);
    this.checker.unref();
  }

  async start(handlers: EngineHandlers): Promise<void> {
    this.handlers = handlers;
    this.health.log = handlers.log;
    this.startup = new Promise((resolve) => {
      const done = () => { clearTimeout(timer); this.commands.off('ready', done); resolve(); };
      const timer = setTimeout(done, this.startupWait);
      timer.unref();
      this.commands.once('ready', done);
    });
    // Connection failures are logged and retried; calls reject with `unavailable` meanwhile.
    await Promise.all([this.commands.connect().catch(() => {}), this.subscriber.connect().catch(() => {})]);
    // 'ready' subscribes the node-message channels too; this waits for Redis to confirm it, so node
    // messages sent once the hub has started reach it. Without Redis, the next 'ready' does it.
    if (this.subscriber.status === 'ready') await this.subscriber.subscribe(...this.nodeKeys()).catch(() => {});
  }

  async publish(channel: string, type: string, dataJson: string, policy: HistoryPolicy, options: PublishOptions = {}): Promise<PublishResult> {
    const { idempotencyKey, idempotencyTtl } = options;
    if (idempotencyKey !== undefined && !(typeof idempotencyTtl === 'number' && idempotencyTtl >= 1)) {
      throw new TypeError('livehub: publish with an idempotencyKey needs idempotencyTtl, a number of milliseconds >= 1');
    }
    const extra = extraFields(options);
    try {
      const [offset, epoch, duplicate] = await (await this.redis()).livehubPublish(
        this.key('m', channel), this.key('h', channel), idempotencyKey === undefined ? this.key('m', channel) : `${this.prefix}:idem:${idempotencyKey}`,
        channel, type, dataJson, policy.size, policy.ttl, newEpoch(), this.key('d', channel), Math.max(this.metaTtl, policy.ttl),
        idempotencyKey === undefined ? 0 : Math.ceil(idempotencyTtl!), extra.tags, extra.from, extra.trace,
      );
      const position: PublishResult = { offset: Number(offset), epoch: String(epoch) };
      if (Number(duplicate) === 1) position.duplicate = true;
      return position;
    } catch (err) {
      throw this.health.unavailable(`publish to channel '${channel}'`, err, true);
    }
  }

  async subscribe(channel: string): Promise<void> {
    if (this.streams.tracked.has(channel)) return;
    // Until the stream's position is known, messages wait (in order) instead of looking like a gap.
    const tracked = this.streams.track(channel);
    let position: StreamPosition;
    try {
      await this.subscriber.subscribe(this.key('d', channel)).catch((err: unknown) => {
        throw this.health.unavailable(`subscribe to channel '${channel}'`, err);
      });
      ({ position } = await this.history(channel, null));
    } catch (err) {
      // The channel stays tracked: the next 'ready' subscribes it, and its position is read when
      // Redis answers; meanwhile this call reports the failure.
      this.streams.learnLater(channel, tracked);
      throw err;
    }
    this.streams.learned(channel, tracked, position);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.streams.tracked.delete(channel);
    try {
      await this.subscriber.unsubscribe(this.key('d', channel));
    } catch (err) {
      throw this.health.unavailable(`unsubscribe from channel '${channel}'`, err);
    }
  }

  subscribePattern(pattern: string): Promise<void> {
    return this.patterns.subscribe(pattern);
  }

  unsubscribePattern(pattern: string): Promise<void> {
    return this.patterns.unsubscribe(pattern);
  }

  async history(channel: string, since: StreamPosition | null): Promise<HistoryResult> {
    let reply: Array<string | number | string[]>;
    try {
      reply = await (await this.redis()).livehubHistory(
        this.key('m', channel), this.key('h', channel),
        since ? since.offset : -1, since ? since.epoch : '', newEpoch(), this.metaTtl,
      );
    } catch (err) {
      throw this.health.unavailable(`history of channel '${channel}'`, err);
    }
    const [epoch, top, recovered, ...entries] = reply;
    const publications: Publication[] = entries.map((fields) => decodeEntry(channel, String(epoch), fields as string[]));
    return { position: { offset: Number(top), epoch: String(epoch) }, publications, recovered: since !== null && Number(recovered) === 1 };
  }

  async addPresence(channel: string, entry: PresenceEntry, ttl: number): Promise<boolean> {
    const now = Date.now();
    const json = JSON.stringify({ ...entry, expires: now + ttl });
    return this.call(`presence update of channel '${channel}'`,
      async (redis) => (await redis.livehubPresenceAdd(this.key('pr', channel), entry.clientId, entry.userId, json, now + ttl, now)) === 1);
  }

  async removePresence(channel: string, clientId: string, userId: string): Promise<boolean> {
    return this.call(`presence removal in channel '${channel}'`,
      async (redis) => (await redis.livehubPresenceRemove(this.key('pr', channel), clientId, userId, Date.now())) === 1);
  }

  async presence(channel: string): Promise<PresenceEntry[]> {
    const now = Date.now();
    const all = await this.call(`presence of channel '${channel}'`, (redis) => redis.hvals(this.key('pr', channel)));
    return all.map((v) => JSON.parse(v) as PresenceEntry & { expires: number })
      .filter((m) => m.expires > now)
      .map(({ expires: _expires, ...entry }) => entry);
  }

  async sweepPresence(channel: string): Promise<string[]> {
    return this.call(`presence sweep of channel '${channel}'`,
      async (redis) => (await redis.livehubPresenceSweep(this.key('pr', channel), Date.now())) as string[]);
  }

  async send(node: string | null, message: string): Promise<boolean> {
    const to = node === null ? `${this.prefix}:nodes` : `${this.prefix}:node:${node}`;
    // PUBLISH answers how many subscribers got it: each node has one subscriber connection.
    const receivers = await this.call(node === null ? 'a message to every node' : `a message to node '${node}'`, (redis) => redis.publish(to, message));
    return Number(receivers) > 0;
  }

  async acknowledge(user: string, channel: string, position: StreamPosition): Promise<Acknowledgement> {
    return this.call(`acknowledgement of channel '${channel}'`,
      (redis) => acknowledgeInRedis(redis, this.key('m', channel), user, position, newEpoch(), this.metaTtl));
  }

  async acknowledged(user: string, channel: string): Promise<AcknowledgedState> {
    return this.call(`acknowledgement of channel '${channel}'`,
      (redis) => acknowledgedInRedis(redis, this.key('m', channel), user, newEpoch(), this.metaTtl));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.health.closed = true;
    clearInterval(this.checker);
    this.handlers = null;
    this.streams.tracked.clear();
    // disconnect(), not quit(): quit waits for a Redis that may be gone.
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  /** The commands connection, once the node's first connection is up (see `startupWait`). */
  private async redis(): Promise<Redis & Scripts> {
    if (this.closed) throw ENGINE_CLOSED;
    if (this.commands.status !== 'ready' && this.startup) await this.startup;
    return this.scripts;
  }

  /** Runs a command, turning its failure into an `unavailable` error that names `what`. */
  private async call<T>(what: string, run: (redis: Redis & Scripts) => Promise<T>): Promise<T> {
    try {
      return await run(await this.redis());
    } catch (err) {
      throw this.health.unavailable(what, err);
    }
  }

  private key(kind: 'm' | 'h' | 'd' | 'pr', channel: string): string {
    return `${this.prefix}:${kind}:${channel}`;
  }

  /** The pub/sub channels of this node's node messages (none before `start`). */
  private nodeKeys(): string[] {
    return this.handlers ? [`${this.prefix}:node:${this.handlers.node}`, `${this.prefix}:nodes`] : [];
  }

  /** Hands a node message to the hub, which never throws from it (see `EngineHandlers.message`). */
  private nodeMessage(message: string): void {
    this.handlers?.message(message);
  }

  /**
   * Compares every channel's position in Redis with what this node delivered, and repairs what lags:
   * a tail lost while the subscriber connection was down leaves no later message to reveal the gap.
   * The tops are read first, then the subscriber connection is pinged: Redis writes a connection's
   * pub/sub messages and replies in order, so by the PONG every publication up to those tops that
   * reached this node has been delivered. One still missing was lost, however slow the node is.
   * A PING with no PONG within `commandTimeout` means the pub/sub connection is half-dead (open, but
   * nothing passes): it is destroyed, ioredis reconnects it, and 'ready' resubscribes and catches up.
   */
  private async check(): Promise<void> {
    if (this.checking || this.closed) return;
    const channels = this.streams.settled();
    if (channels.length === 0 || this.commands.status !== 'ready' || this.subscriber.status !== 'ready') return;
    this.checking = true;
    try {
      const ahead = await channelsAhead(this.scripts, channels, (channel) => this.key('m', channel), () => this.closed);
      const probed = this.subscriber;
      try {
        await probed.ping();
      } catch (err) {
        if (this.closed || probed.status !== 'ready') return;
        this.handlers?.log?.('warn', `redis:${this.host}:pubsub-dead`, { code: 'engine_pubsub_dead', err, host: this.host },
          `livehub: the pub/sub connection to Redis at ${this.host} stopped answering (no PONG within the commandTimeout): replacing it and recovering what it missed from history`);
        probed.stream?.destroy();
        return;
      }
      // Every pub/sub message published before those tops were read came before the PONG: a node
      // still behind them missed something.
      for (const top of ahead) if (this.streams.behind(top.channel, top.epoch, top.offset)) void this.streams.catchUp(top.channel);
    } catch {
      // Redis is away (its connection's error was logged); the next check tries again.
    } finally {
      this.checking = false;
    }
  }
}

/**
 * A candidate epoch, used by the scripts only when a channel has none (new, or its state expired):
 * this process's random prefix and a counter, unique across nodes and calls without asking the OS
 * for randomness on every publish and history read (3–4% of a node's CPU in a reconnect storm).
 */
const EPOCH_PREFIX = randomBytes(6).toString('base64url');
let epochs = 0;
function newEpoch(): string {
  return `${EPOCH_PREFIX}${(++epochs).toString(36)}`;
}

/** Compile-time check that RedisEngine is an Engine. */
export const redisEngineConforms: new () => Engine = RedisEngine;
