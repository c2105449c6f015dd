/** livehub/engine: the engine interface and the in-memory engine. */
export {
  encodeFrom, encodePublication, type Engine, type EngineHandlers, type HistoryPolicy, type HistoryResult, type MaybePromise,
  type PresenceEntry, type PresenceStatus, type Publication, type Publisher, type PublishOptions, type PublishResult, type StreamPosition,
} from './engine.js';
export { MemoryEngine } from './memory.js';
