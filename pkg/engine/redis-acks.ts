import type { Redis } from 'ioredis';
import type { AcknowledgedState, Acknowledgement } from './acknowledgements.js';
import type { StreamPosition } from './engine.js';

/**
 * The Redis engine's acknowledgements: a field `a:<user>` (the acknowledged offset) in the channel's
 * stream metadata hash `{p}:m:{channel}`, beside its epoch and head, so it lives exactly as long as
 * that epoch: refreshed by every publish, and gone with the history when the metadata expires. One
 * Lua script reads the head and the acknowledgement and, for an acknowledgement, refuses it or moves
 * it forward, so nodes acknowledging at once never move it back.
 */

// KEYS: meta. ARGV: user, offset ('' to only read), epoch, epoch candidate, ttl ms.
// Returns {epoch, head, acknowledged, moved (0/1), refused ('', 'epoch' or 'ahead')}.
const ACKNOWLEDGE = `
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[4]
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
local head = tonumber(redis.call('HGET', KEYS[1], 'o') or '0')
local field = 'a:' .. ARGV[1]
local acked = tonumber(redis.call('HGET', KEYS[1], field) or '0')
if ARGV[2] == '' then return {epoch, head, acked, 0, ''} end
local offset = tonumber(ARGV[2])
if ARGV[3] ~= epoch then return {epoch, head, acked, 0, 'epoch'} end
if offset > head then return {epoch, head, acked, 0, 'ahead'} end
if offset <= acked then return {epoch, head, acked, 0, ''} end
redis.call('HSET', KEYS[1], field, offset)
return {epoch, head, offset, 1, ''}
`;

type Reply = [string, number | string, number | string, number | string, string];

/** Runs the script: an acknowledgement with `position`, or only a read without. */
export async function acknowledgeInRedis(
  redis: Redis, meta: string, user: string, position: StreamPosition | null, epochCandidate: string, ttl: number,
): Promise<Acknowledgement> {
  const [epoch, head, acknowledged, moved, refused] = await redis.eval(ACKNOWLEDGE, 1, meta,
    user, position === null ? '' : position.offset, position === null ? '' : position.epoch, epochCandidate, ttl) as Reply;
  const answer: Acknowledgement = { head: { offset: Number(head), epoch: String(epoch) }, acknowledged: Number(acknowledged), moved: Number(moved) === 1 };
  if (refused === 'epoch' || refused === 'ahead') answer.refused = refused;
  return answer;
}

/** The state alone (a read). */
export async function acknowledgedInRedis(redis: Redis, meta: string, user: string, epochCandidate: string, ttl: number): Promise<AcknowledgedState> {
  const { head, acknowledged } = await acknowledgeInRedis(redis, meta, user, null, epochCandidate, ttl);
  return { head, acknowledged };
}
