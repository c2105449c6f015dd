/** livehub/engine: the engine interface and the in-memory engine. */
export { encodePublication, type Engine, type EngineHandlers, type HistoryPolicy, type HistoryResult, type MaybePromise, type PresenceEntry, type PresenceStatus, type Publication, type StreamPosition } from './engine.js';
export { MemoryEngine } from './memory.js';
