import type { Redis } from 'ioredis';
import type { AcknowledgedState, Acknowledgement } from './acknowledgements.js';
import type { StreamPosition } from './engine.js';

/**
 * The Redis engine's acknowledgements: `{p}:a:{channel}`, a hash of user → `offset epoch`, next to
 * the channel's stream metadata `{p}:m:{channel}` (epoch and head) and kept as long. One Lua script
 * reads the head and the stored acknowledgement and, for an acknowledgement, refuses or moves it
 * forward, so nodes acknowledging at once never move it back.
 */

// KEYS: meta, acknowledgements. ARGV: user, offset ('' to only read), epoch, epoch candidate, ttl ms.
// Returns {epoch, head, acknowledged, moved (0/1), refused ('', 'epoch' or 'ahead')}.
const ACKNOWLEDGE = `
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[4]
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
local head = tonumber(redis.call('HGET', KEYS[1], 'o') or '0')
local acked = 0
local current = false
local stored = redis.call('HGET', KEYS[2], ARGV[1])
if stored then
  local space = string.find(stored, ' ', 1, true)
  if space and string.sub(stored, space + 1) == epoch then
    acked = tonumber(string.sub(stored, 1, space - 1))
    current = true
  end
end
if ARGV[2] == '' then return {epoch, head, acked, 0, ''} end
local offset = tonumber(ARGV[2])
if ARGV[3] ~= epoch then return {epoch, head, acked, 0, 'epoch'} end
if offset > head then return {epoch, head, acked, 0, 'ahead'} end
if current and offset <= acked then return {epoch, head, acked, 0, ''} end
redis.call('HSET', KEYS[2], ARGV[1], offset .. ' ' .. epoch)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
local moved = 0
if offset > acked then moved = 1 end
return {epoch, head, offset, moved, ''}
`;

type Reply = [string, number | string, number | string, number | string, string];

/** Runs the script: an acknowledgement with `position`, or only a read without. */
export async function acknowledgeInRedis(
  redis: Redis, keys: { meta: string; acks: string }, user: string, position: StreamPosition | null, epochCandidate: string, ttl: number,
): Promise<Acknowledgement> {
  const [epoch, head, acknowledged, moved, refused] = await redis.eval(ACKNOWLEDGE, 2, keys.meta, keys.acks,
    user, position === null ? '' : position.offset, position === null ? '' : position.epoch, epochCandidate, ttl) as Reply;
  const answer: Acknowledgement = { head: { offset: Number(head), epoch: String(epoch) }, acknowledged: Number(acknowledged), moved: Number(moved) === 1 };
  if (refused === 'epoch' || refused === 'ahead') answer.refused = refused;
  return answer;
}

/** The state alone (a read). */
export async function acknowledgedInRedis(redis: Redis, keys: { meta: string; acks: string }, user: string, epochCandidate: string, ttl: number): Promise<AcknowledgedState> {
  const { head, acknowledged } = await acknowledgeInRedis(redis, keys, user, null, epochCandidate, ttl);
  return { head, acknowledged };
}
