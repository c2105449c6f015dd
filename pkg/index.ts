/** livehub: the server hub. `import { Hub } from 'livehub'`. */
export { Hub, type DrainOptions, type HubInfo, type HubStats, type UnreadState } from './hub.js';
export type { HistoryOptions } from './core/transport.js';
export type { HubEventMap, HubEventName, SessionInfo } from './core/events.js';
export type { Logger } from './core/logger.js';
export { AuthError, jwtAuthenticator, readToken, type Authenticate, type Identity, type JwtAuthenticatorOptions } from './core/auth.js';
export { userChannel, type Authorize, type AuthorizeRequest, type Action, type RequestInfo } from './core/policy.js';
export type { HubOptions, PublishRequest } from './core/options.js';
export { DEFAULTS, derivePingPeriod } from './core/options.js';
export { jsCodec, type FrameCodec } from './transport/websocket/codec.js';
export {
  BROADCAST_CHANNEL, EVERYONE_CHANNEL, CloseCode, describeError, ErrorCode, ERRORS, isValidChannel, isValidType, shouldReconnect,
  matchesPattern, patternError, type PatternCommand, type PatternReply, type ClientCommand, type ErrorInfo, type HubMessage, type PresenceMember, type PresenceStatus, type RequestId, type ServerReply,
  type StreamPosition,
} from './protocol/index.js';
export type { HttpApiOptions, HttpApiHandler } from './transport/http/api.js';
export { ApiErrorCode } from './transport/http/errors.js';
export { HandlerError, type Handler, type Middleware, type Toolkit, type MessageContext, type InboundMessage } from './core/handlers.js';
export type { HubPublishOptions } from './core/publisher.js';
