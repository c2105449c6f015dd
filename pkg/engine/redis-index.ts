/** livehub/redis: the Redis engine (ioredis). `new Hub({ engine: new RedisEngine({ url }) })`. */
export { RedisEngine, type RedisEngineOptions } from './redis.js';
export { EngineUnavailableError } from './redis-health.js';
