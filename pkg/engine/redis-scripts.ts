import type { Redis } from 'ioredis';

/**
 * The Redis engine's Lua scripts. Each runs atomically in Redis: of several nodes, one at a time.
 * Keys (under the engine's prefix): `m:{channel}` the stream's epoch and top offset, `h:{channel}` its
 * history (a Redis Stream), `idem:{key}` an idempotency key's position, `pr:{channel}` presence.
 */

// KEYS: meta, stream, idempotency key (the meta key again when there is none).
// ARGV: channel, type, data JSON, history size, history ttl, epoch candidate, pub/sub channel, meta ttl,
//       idempotency ttl (0: no key), tags, from, trace (each JSON without raw spaces, '' for none).
// Stores and publishes the fields as redis-format.ts lays them out.
// Returns {offset, epoch, duplicate (0/1)}. A key already stored returns its position and publishes
// nothing. The key is stored last, so a script that fails before it leaves the key free to retry.
const PUBLISH = `
local idemTtl = tonumber(ARGV[9])
if idemTtl > 0 then
  local done = redis.call('GET', KEYS[3])
  if done then
    local space = string.find(done, ' ', 1, true)
    return {tonumber(string.sub(done, 1, space - 1)), string.sub(done, space + 1), 1}
  end
end
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[6]
  redis.call('HSET', KEYS[1], 'e', epoch)
end
local offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[8])
if tonumber(ARGV[4]) > 0 then
  local fields = {'o', offset, 't', ARGV[2], 'd', ARGV[3]}
  if ARGV[10] ~= '' then table.insert(fields, 'g'); table.insert(fields, ARGV[10]) end
  if ARGV[11] ~= '' then table.insert(fields, 'f'); table.insert(fields, ARGV[11]) end
  if ARGV[12] ~= '' then table.insert(fields, 'r'); table.insert(fields, ARGV[12]) end
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[4], '*', unpack(fields))
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
local function field(v) if v == '' then return '-' end return v end
redis.call('PUBLISH', ARGV[7], epoch .. ' ' .. offset .. ' ' .. ARGV[2] .. ' ' .. field(ARGV[10]) .. ' ' .. field(ARGV[11]) .. ' ' .. field(ARGV[12]) .. ' ' .. ARGV[3])
if idemTtl > 0 then redis.call('SET', KEYS[3], offset .. ' ' .. epoch, 'PX', idemTtl, 'NX') end
return {offset, epoch, 0}
`;

// KEYS: meta, stream. ARGV: since offset (or -1), since epoch, epoch candidate, meta ttl.
// Returns {epoch, top, recovered (0/1), entry fields...}: the fields of each publication after
// since, oldest first, each a list of name, value pairs (redis-format.ts reads them).
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
  local o
  for j = 1, #fields, 2 do
    if fields[j] == 'o' then o = fields[j + 1] end
  end
  if tonumber(o) ~= since + (#entries - i + 1) then return {epoch, top, 0} end
  table.insert(out, fields)
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

// KEYS: the meta keys of several channels. ARGV: for each channel in order, the epoch and the offset
// this node delivered. Returns, for each channel whose stream is ahead of that (another epoch, or a
// higher offset), its (1-based) position in KEYS, its epoch and its top offset, one after another. One command for many channels: the periodic check costs a round
// trip and one reply per chunk instead of a command and a reply per channel. (The keys of one call
// may hash to different slots: like the other scripts, this assumes one Redis, not Redis Cluster.)
const CHECK = `
local ahead = {}
for i = 1, #KEYS do
  local top = redis.call('HMGET', KEYS[i], 'e', 'o')
  if top[1] and (top[1] ~= ARGV[2 * i - 1] or tonumber(top[2] or '0') > tonumber(ARGV[2 * i])) then
    ahead[#ahead + 1] = i
    ahead[#ahead + 1] = top[1]
    ahead[#ahead + 1] = top[2] or '0'
  end
end
return ahead
`;

/** The scripts as commands of a connection (see `defineScripts`). */
export interface Scripts {
  livehubPublish(...args: Array<string | number>): Promise<[number, string, number]>;
  livehubHistory(...args: Array<string | number>): Promise<Array<string | number | string[]>>;
  livehubPresenceAdd(...args: Array<string | number>): Promise<number>;
  livehubPresenceRemove(...args: Array<string | number>): Promise<number>;
  livehubPresenceSweep(...args: Array<string | number>): Promise<string[]>;
  /** The first argument is the number of keys that follow. */
  livehubCheck(...args: Array<string | number>): Promise<Array<number | string>>;
}

/** Adds the scripts to a connection as commands (EVALSHA, falling back to EVAL once per script). */
export function defineScripts(redis: Redis): Redis & Scripts {
  redis.defineCommand('livehubPublish', { numberOfKeys: 3, lua: PUBLISH });
  redis.defineCommand('livehubHistory', { numberOfKeys: 2, lua: HISTORY });
  redis.defineCommand('livehubPresenceAdd', { numberOfKeys: 1, lua: PRESENCE_ADD });
  redis.defineCommand('livehubPresenceRemove', { numberOfKeys: 1, lua: PRESENCE_REMOVE });
  redis.defineCommand('livehubPresenceSweep', { numberOfKeys: 1, lua: PRESENCE_SWEEP });
  redis.defineCommand('livehubCheck', { lua: CHECK });
  return redis as Redis & Scripts;
}

/** Channels compared per call of the periodic check (a few hundred microseconds of Redis's time). */
const CHECK_CHUNK = 1000;

/** A channel's stream position, as this node delivered it or as Redis holds it. */
export interface ChannelTop { channel: string; epoch: string; offset: number }

/**
 * The channels whose stream in Redis is ahead of the position given for them, with Redis's top.
 * One script call per 1,000 channels, one after another: other commands (publishes, history reads)
 * go between the calls instead of queueing behind one reply for every channel of the node.
 */
export async function channelsAhead(redis: Scripts, channels: ChannelTop[], metaKey: (channel: string) => string, stop: () => boolean): Promise<ChannelTop[]> {
  const ahead: ChannelTop[] = [];
  for (let start = 0; start < channels.length && !stop(); start += CHECK_CHUNK) {
    const chunk = channels.slice(start, start + CHECK_CHUNK);
    const args: Array<string | number> = [chunk.length, ...chunk.map((c) => metaKey(c.channel))];
    for (const c of chunk) args.push(c.epoch, c.offset);
    const reply = await redis.livehubCheck(...args);
    for (let i = 0; i + 2 < reply.length; i += 3) {
      ahead.push({ channel: chunk[Number(reply[i]) - 1]!.channel, epoch: String(reply[i + 1]), offset: Number(reply[i + 2]) });
    }
  }
  return ahead;
}
