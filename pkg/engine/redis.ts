import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type {
  Engine, EngineHandlers, HistoryPolicy, HistoryResult, PresenceEntry, Publication, StreamPosition,
} from './engine.js';

/**
 * The Redis engine: livehub on several nodes behind any load balancer, no sticky sessions.
 *
 * Kept in Redis, per channel (keys under `prefix`):
 * - `{p}:m:{channel}`, a hash: the stream's epoch `e` and last offset `o`;
 * - `{p}:h:{channel}`, a Redis Stream of the last `size` publications (`o` offset, `p` JSON), expiring
 *   `ttl` after the last publish;
 * - `{p}:c:{channel}`, the pub/sub channel carrying `epoch offset json` to the nodes subscribed;
 * - `{p}:claim:{key}`, publish-id claims (SET NX PX);
 * - `{p}:pr:{channel}`, a hash of the channel's presence: connection id → JSON with its user, status,
 *   info and expiry time; nodes refresh their connections' entries, and expired ones (a dead node's)
 *   are swept by whichever node gets there first.
 * A publish is one Lua script: next offset, epoch created if missing, appended to history, published.
 * Each node holds one pub/sub subscription per channel with local subscribers. It tracks the last
 * offset it delivered per channel: a jump (messages lost while the subscriber connection was down, or
 * killed) is repaired from history before anything later is delivered; an epoch change (Redis lost its
 * data) or a gap no longer in history is reported as a reset. Commands are not queued while Redis is
 * unreachable: they fail at once (`enableOfflineQueue: false`), except while the node is starting:
 * until its first connection (or `startupWait`), they wait for it rather than fail.
 */
export interface RedisEngineOptions {
  /** redis:// URL. @default process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' */
  url?: string;
  /** Key and channel prefix. @default 'livehub' */
  prefix?: string;
  /** Milliseconds the stream metadata (epoch, offset) outlives the last publish. @default 86400000 */
  metaTtl?: number;
  /**
   * Milliseconds between checks that this node has every channel's latest publication (a missed tail
   * after a reconnect leaves no later message to reveal the gap; this finds it).
   * @default 2000
   */
  checkInterval?: number;
  /**
   * Milliseconds that commands issued while the node is starting wait for its first connection to
   * Redis; after that, and whenever Redis is away later, commands fail at once.
   * @default 10000
   */
  startupWait?: number;
  /** Extra ioredis options (both connections). */
  redis?: RedisOptions;
}

const PUBLISH = `
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[6]
  redis.call('HSET', KEYS[1], 'e', epoch)
end
local offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[8])
local payload = '{"channel":"' .. ARGV[1] .. '","type":"' .. ARGV[2] .. '","data":' .. ARGV[3] .. ',"offset":' .. offset .. '}'
if tonumber(ARGV[4]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[4], '*', 'o', offset, 'p', payload)
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
redis.call('PUBLISH', ARGV[7], epoch .. ' ' .. offset .. ' ' .. payload)
return {offset, epoch}
`;

// KEYS: meta, stream. ARGV: since offset (or -1), since epoch, epoch candidate, meta ttl.
// Returns {epoch, top, recovered (0/1), offsets..., payloads...} where the publications are those after since.
const HISTORY = `
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[3]
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
local top = tonumber(redis.call('HGET', KEYS[1], 'o') or '0')
local since = tonumber(ARGV[1])
if since < 0 or ARGV[2] ~= epoch or since > top then return {epoch, top, 0} end
if since == top then return {epoch, top, 1} end
local wanted = top - since
local entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', wanted)
if #entries < wanted then return {epoch, top, 0} end
local out = {epoch, top, 1}
for i = #entries, 1, -1 do
  local fields = entries[i][2]
  local o, p
  for j = 1, #fields, 2 do
    if fields[j] == 'o' then o = fields[j + 1] elseif fields[j] == 'p' then p = fields[j + 1] end
  end
  if tonumber(o) ~= since + (#entries - i + 1) then return {epoch, top, 0} end
  table.insert(out, o)
  table.insert(out, p)
end
return out
`;

// KEYS: presence hash. ARGV: clientId, userId, json, expires (ms), now (ms). Returns 1 if the user joined.
const PRESENCE_ADD = `
local known = redis.call('HEXISTS', KEYS[1], ARGV[1])
local others = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  local m = cjson.decode(v)
  if m.userId == ARGV[2] and m.clientId ~= ARGV[1] and tonumber(m.expires) > tonumber(ARGV[5]) then others = others + 1 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[4]) - tonumber(ARGV[5]), 1000) * 2)
if known == 0 and others == 0 then return 1 end
return 0
`;

// KEYS: presence hash. ARGV: clientId, userId, now. Returns 1 if the user has no live connection left.
const PRESENCE_REMOVE = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  local m = cjson.decode(v)
  if m.userId == ARGV[2] and tonumber(m.expires) > tonumber(ARGV[3]) then return 0 end
end
return 1
`;

// KEYS: presence hash. ARGV: now. Removes expired entries; returns the users left with none.
const PRESENCE_SWEEP = `
local gone, live = {}, {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local m = cjson.decode(all[i + 1])
  if tonumber(m.expires) <= tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], all[i])
    gone[m.userId] = true
  else
    live[m.userId] = true
  end
end
local out = {}
for user in pairs(gone) do if not live[user] then table.insert(out, user) end end
return out
`;

interface Tracked {
  epoch: string | null;
  offset: number;
  /** Set while a gap is being repaired: later messages wait here, in order. */
  waiting: Array<{ epoch: string; offset: number; payload: string }> | null;
  /** Epochs replaced by a reset: their late messages are ignored. */
  retired: Set<string>;
  /** A repair from history is running (one at a time per channel). */
  repairing: boolean;
  /** A repair was asked for while one ran (a reconnect during a repair): run once more after it. */
  again: boolean;
}

export class RedisEngine implements Engine {
  readonly commands: Redis;
  readonly subscriber: Redis;
  private handlers: EngineHandlers | null = null;
  private readonly prefix: string;
  private readonly metaTtl: number;
  private readonly tracked = new Map<string, Tracked>();
  private closed = false;
  private readonly checker: NodeJS.Timeout;
  private checking = false;
  private readonly startupWait: number;
  /** Settles at the first connection (or after `startupWait`); commands issued before wait for it. */
  private startup: Promise<void> | null = null;

  constructor(options: RedisEngineOptions = {}) {
    const url = options.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    this.prefix = options.prefix ?? 'livehub';
    this.metaTtl = options.metaTtl ?? 86_400_000;
    this.startupWait = options.startupWait ?? 10_000;
    const common: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
      ...options.redis,
    };
    this.commands = new Redis(url, { ...common, lazyConnect: true });
    // The subscriber keeps ioredis's offline queue: it only ever queues SUBSCRIBE/UNSUBSCRIBE (one per
    // channel), and its automatic resubscribe after a reconnect needs it. No ready check: ioredis sends
    // a SUBSCRIBE made while the connection is being set up at once, and its ready check (INFO) would
    // then fail in subscriber mode and drop the connection, losing what is published meanwhile.
    this.subscriber = new Redis(url, { ...common, enableOfflineQueue: true, lazyConnect: true, autoResubscribe: true, enableReadyCheck: false });
    this.commands.defineCommand('livehubPublish', { numberOfKeys: 2, lua: PUBLISH });
    this.commands.defineCommand('livehubHistory', { numberOfKeys: 2, lua: HISTORY });
    this.commands.defineCommand('livehubPresenceAdd', { numberOfKeys: 1, lua: PRESENCE_ADD });
    this.commands.defineCommand('livehubPresenceRemove', { numberOfKeys: 1, lua: PRESENCE_REMOVE });
    this.commands.defineCommand('livehubPresenceSweep', { numberOfKeys: 1, lua: PRESENCE_SWEEP });
    for (const connection of [this.commands, this.subscriber]) connection.on('error', () => { /* reconnects; commands fail fast */ });
    this.subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    this.subscriber.on('ready', () => {
      // Messages published while the subscriber connection was down (or being set up) were missed:
      // catch up every channel, now and once more shortly (the resubscription may take effect after
      // this first read). Channels still learning their position are left to subscribe().
      for (const channel of this.tracked.keys()) void this.catchUp(channel);
      setTimeout(() => void this.check(), 1000).unref();
    });
    this.checker = setInterval(() => void this.check(), options.checkInterval ?? 2000);
    this.checker.unref();
  }

  async start(handlers: EngineHandlers): Promise<void> {
    this.handlers = handlers;
    this.startup = new Promise((resolve) => {
      const done = () => { clearTimeout(timer); this.commands.off('ready', done); resolve(); };
      const timer = setTimeout(done, this.startupWait);
      timer.unref();
      this.commands.once('ready', done);
    });
    await Promise.all([this.commands.connect(), this.subscriber.connect()]);
  }

  async publish(channel: string, type: string, dataJson: string, policy: HistoryPolicy): Promise<StreamPosition> {
    const [offset, epoch] = await (await this.redis()).livehubPublish(
      this.key('m', channel), this.key('h', channel),
      channel, type, dataJson, policy.size, policy.ttl, newEpoch(), this.key('c', channel), Math.max(this.metaTtl, policy.ttl),
    );
    return { offset: Number(offset), epoch: String(epoch) };
  }

  async subscribe(channel: string): Promise<void> {
    if (this.tracked.has(channel)) return;
    // Until the stream's position is known, messages wait (in order) instead of looking like a gap.
    const tracked: Tracked = { epoch: null, offset: -1, waiting: [], retired: new Set(), repairing: false, again: false };
    this.tracked.set(channel, tracked);
    await this.subscriber.subscribe(this.key('c', channel));
    // Learn where the stream stands; while Redis cannot answer, keep trying (messages keep waiting).
    let position: StreamPosition;
    for (;;) {
      try {
        ({ position } = await this.history(channel, null));
        break;
      } catch (error) {
        if (this.closed || this.tracked.get(channel) !== tracked) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    if (this.tracked.get(channel) !== tracked) return;
    tracked.epoch = position.epoch;
    tracked.offset = position.offset;
    const waiting = tracked.waiting ?? [];
    tracked.waiting = null;
    for (const m of waiting) {
      const pending = tracked.waiting as Tracked['waiting'];
      if (pending) pending.push(m);
      else this.accept(channel, tracked, m.epoch, m.offset, m.payload);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    this.tracked.delete(channel);
    await this.subscriber.unsubscribe(this.key('c', channel));
  }

  async history(channel: string, since: StreamPosition | null): Promise<HistoryResult> {
    const reply = await (await this.redis()).livehubHistory(
      this.key('m', channel), this.key('h', channel),
      since ? since.offset : -1, since ? since.epoch : '', newEpoch(), this.metaTtl,
    );
    const [epoch, top, recovered, ...rest] = reply;
    const publications: Publication[] = [];
    for (let i = 0; i < rest.length; i += 2) publications.push({ channel, offset: Number(rest[i]), payload: String(rest[i + 1]) });
    return { position: { offset: Number(top), epoch: String(epoch) }, publications, recovered: since !== null && Number(recovered) === 1 };
  }

  async claim(key: string, ttl: number): Promise<boolean> {
    return (await (await this.redis()).set(`${this.prefix}:claim:${key}`, '1', 'PX', ttl, 'NX')) === 'OK';
  }

  async addPresence(channel: string, entry: PresenceEntry, ttl: number): Promise<boolean> {
    const now = Date.now();
    const json = JSON.stringify({ ...entry, expires: now + ttl });
    return (await (await this.redis()).livehubPresenceAdd(this.key('pr', channel), entry.clientId, entry.userId, json, now + ttl, now)) === 1;
  }

  async removePresence(channel: string, clientId: string, userId: string): Promise<boolean> {
    return (await (await this.redis()).livehubPresenceRemove(this.key('pr', channel), clientId, userId, Date.now())) === 1;
  }

  async presence(channel: string): Promise<PresenceEntry[]> {
    const now = Date.now();
    const all = await (await this.redis()).hvals(this.key('pr', channel));
    return all.map((v) => JSON.parse(v) as PresenceEntry & { expires: number })
      .filter((m) => m.expires > now)
      .map(({ expires: _expires, ...entry }) => entry);
  }

  async sweepPresence(channel: string): Promise<string[]> {
    return (await (await this.redis()).livehubPresenceSweep(this.key('pr', channel), Date.now())) as string[];
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.checker);
    this.handlers = null;
    this.tracked.clear();
    // disconnect(), not quit(): quit waits for a Redis that may be gone.
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  /** The commands connection, once the node's first connection is up (see `startupWait`). */
  private async redis(): Promise<Redis & Scripts> {
    if (this.commands.status !== 'ready' && this.startup) await this.startup;
    return this.commands as Redis & Scripts;
  }

  private key(kind: 'm' | 'h' | 'c' | 'pr', channel: string): string {
    return `${this.prefix}:${kind}:${channel}`;
  }

  private onMessage(pubsubChannel: string, message: string): void {
    const channel = pubsubChannel.slice(this.prefix.length + 3);
    const tracked = this.tracked.get(channel);
    if (!tracked || !this.handlers) return;
    const first = message.indexOf(' ');
    const second = message.indexOf(' ', first + 1);
    const epoch = message.slice(0, first);
    const offset = Number(message.slice(first + 1, second));
    const payload = message.slice(second + 1);
    if (tracked.waiting) {
      tracked.waiting.push({ epoch, offset, payload });
      return;
    }
    this.accept(channel, tracked, epoch, offset, payload);
  }

  /** Delivers in order; a jump or a new epoch triggers a repair from history first. */
  private accept(channel: string, tracked: Tracked, epoch: string, offset: number, payload: string): void {
    if (tracked.retired.has(epoch)) return;
    if (tracked.epoch === epoch && offset <= tracked.offset) return; // seen (a repair already delivered it)
    if (tracked.epoch === epoch && offset === tracked.offset + 1) {
      tracked.offset = offset;
      this.handlers?.deliver({ channel, offset, payload });
      return;
    }
    tracked.waiting = [{ epoch, offset, payload }];
    void this.catchUp(channel);
  }

  /**
   * Compares every channel's position in Redis with what this node delivered, and repairs what lags:
   * a tail lost while the subscriber connection was down leaves no later message to reveal the gap.
   * The tops are read first, then the subscriber connection is pinged: Redis writes a connection's
   * pub/sub messages and replies in order, so by the PONG every publication up to those tops that
   * reached this node has been delivered. One still missing was lost, however slow the node is.
   */
  private async check(): Promise<void> {
    if (this.checking) return;
    const channels = [...this.tracked].filter(([, t]) => t.epoch !== null && !t.repairing && !t.waiting).map(([c]) => c);
    if (channels.length === 0 || this.commands.status !== 'ready' || this.subscriber.status !== 'ready') return;
    this.checking = true;
    try {
      const pipeline = this.commands.pipeline();
      for (const channel of channels) pipeline.hmget(this.key('m', channel), 'e', 'o');
      const replies = (await pipeline.exec()) ?? [];
      await this.subscriber.ping();
      replies.forEach(([error, value], i) => {
        const tracked = this.tracked.get(channels[i]!);
        if (error || !tracked || tracked.waiting || tracked.repairing || !Array.isArray(value)) return;
        const [epoch, offset] = value as [string | null, string | null];
        if (epoch === null) return;
        if (epoch !== tracked.epoch || Number(offset) > tracked.offset) void this.catchUp(channels[i]!);
      });
    } catch {
      // Redis is away; the next check tries again.
    } finally {
      this.checking = false;
    }
  }

  /** Fetches what this node missed on a channel and delivers it, or reports a reset. */
  private async catchUp(channel: string): Promise<void> {
    const tracked = this.tracked.get(channel);
    if (!tracked) return;
    if (tracked.repairing) {
      tracked.again = true; // what was missed after the running repair's read is caught up next
      return;
    }
    if (tracked.epoch === null && tracked.waiting) return; // subscribe() is still learning the position
    tracked.waiting ??= [];
    tracked.repairing = true;
    try {
      const since = tracked.epoch === null ? null : { offset: tracked.offset, epoch: tracked.epoch };
      const result = await this.history(channel, since);
      if (this.tracked.get(channel) !== tracked) return;
      if (since && result.recovered) {
        for (const p of result.publications) {
          if (p.offset <= tracked.offset) continue;
          tracked.offset = p.offset;
          this.handlers?.deliver(p);
        }
      } else {
        if (tracked.epoch !== null && tracked.epoch !== result.position.epoch) tracked.retired.add(tracked.epoch);
        tracked.epoch = result.position.epoch;
        tracked.offset = result.position.offset;
        this.handlers?.reset(channel, result.position);
      }
    } catch {
      // Redis is away: keep what waits, and try again shortly (the reconnect also triggers this).
      tracked.repairing = false;
      if (this.handlers && this.tracked.get(channel) === tracked) {
        setTimeout(() => void this.catchUp(channel), 500).unref();
      }
      return;
    }
    tracked.repairing = false;
    if (tracked.again) {
      tracked.again = false;
      void this.catchUp(channel); // `waiting` stays set, so order is kept
      return;
    }
    const waiting = tracked.waiting ?? [];
    tracked.waiting = null;
    for (const m of waiting) {
      const pending = tracked.waiting as Tracked['waiting']; // accept() may start a new repair
      if (pending) pending.push(m);
      else this.accept(channel, tracked, m.epoch, m.offset, m.payload);
    }
  }
}

interface Scripts {
  livehubPublish(...args: Array<string | number>): Promise<[number, string]>;
  livehubHistory(...args: Array<string | number>): Promise<Array<string | number>>;
  livehubPresenceAdd(...args: Array<string | number>): Promise<number>;
  livehubPresenceRemove(...args: Array<string | number>): Promise<number>;
  livehubPresenceSweep(...args: Array<string | number>): Promise<string[]>;
}

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

/** Compile-time check that RedisEngine is an Engine. */
export const redisEngineConforms: new () => Engine = RedisEngine;
