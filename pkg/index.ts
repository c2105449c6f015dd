/** livehub: the server hub. `import { Hub } from 'livehub'`. */
export { Hub, type HubStats } from './realtime/hub.js';
export type { HubCounters } from './realtime/session.js';
export type { HubEventMap, HubEventName, SessionInfo } from './realtime/events.js';
export type { Logger } from './realtime/logger.js';
export { AuthError, jwtAuthenticator, readToken, type Authenticate, type Identity, type JwtAuthenticatorOptions } from './realtime/auth.js';
export { userChannel, type Authorize, type AuthorizeRequest, type Action, type RequestInfo } from './realtime/policy.js';
export type { HubOptions, PublishRequest } from './realtime/options.js';
export { DEFAULTS, derivePingPeriod } from './realtime/options.js';
export { jsCodec, type FrameCodec } from './transport/websocket/codec.js';
export type { Transport, WireFormat, TransportEvents, SessionOpener } from './transport/transport.js';
export {
  BROADCAST_CHANNEL, CloseCode, ErrorCode, isValidChannel, shouldReconnect,
  type HubMessage, type ClientCommand, type ServerReply, type RequestId,
} from './protocol.js';
