/**
 * livehub/transport: the public API for carrying a hub's sessions over a wire of your own. Implement
 * a `TransportEndpoint` (start/stop), add it with `hub.addTransport(endpoint)`, admit each connection
 * through `host.admit`, and hand it to `host.open` with a `Transport` (its one writer); the session
 * that returns is where the connection's events go. Sessions opened this way get what WebSocket and
 * SSE get: authentication and limits, the command router, history recovery, presence and the
 * batched fan-out. The built-in WebSocket and SSE transports are written against this module alone.
 */
export {
  isRefusal,
  type Admitted, type Refusal, type Transport, type TransportEndpoint, type TransportEvents,
  type TransportHost, type WireFormat, type PublishAs, type HistoryOptions,
} from '../core/transport.js';
export type { FrameCodec } from '../core/codec.js';
export type { Identity } from '../core/auth.js';
export type { RequestInfo } from '../core/policy.js';
export type { ResolvedHubOptions } from '../core/options.js';
export type { Reporter } from '../core/report.js';
export type { EngineRecords } from '../engine/engine.js';
