/** livehub: the server hub. `import { Hub } from 'livehub'`. */
export { Hub } from './realtime/hub.js';
export type { HubStats } from './realtime/api.js';
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
} from './protocol/index.js';
export type { HttpApiOptions, HttpApiHandler } from './transport/http/api.js';
export { ApiErrorCode } from './transport/http/errors.js';
export { HandlerError, type Handler, type Middleware, type Toolkit, type MessageContext, type InboundMessage } from './realtime/handlers.js';
export type { HubPublishOptions } from './realtime/publisher.js';
