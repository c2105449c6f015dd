/** livehub/engine: the engine contract, the in-memory engine, and the suite any engine must pass. */
export {
  type Engine, type EngineHandlers, type EngineRecords, type HistoryPolicy, type HistoryResult, type MaybePromise, type PresenceEntry,
  type PresenceStatus, type Publication, type Publisher, type PublishOptions, type PublishResult, type PublishTrace, type StreamPosition,
} from './engine.js';
export { unreadOf, type AcknowledgedState, type Acknowledgement } from './acknowledgements.js';
export { MemoryEngine } from './memory.js';
export { engineConformance, type ConformanceTarget, type EngineUnderTest, type TestFunctions } from './conformance.js';
