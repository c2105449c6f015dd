/** livehub/client: the framework-free client. */
export { LiveClient } from './live-client.js';
export { LiveError, type GapEvent, type RecoveredEvent, type SubscribeErrorEvent } from './errors.js';
export type { LiveClientEvents, LiveStatus, MessageHandler } from './events.js';
export type { HeartbeatOptions, LiveClientOptions, OutboxOptions, ReconnectOptions } from './options.js';
export type { Listeners } from './emitter.js';
export { Inbox, type InboxOptions, type InboxState } from './core/inbox.js';
export type { DirectHandler, DirectListeners, DirectMessage, RequestOptions, SendOptions } from './request.js';
export { resolveUrl, SUBPROTOCOL, type WebSocketConstructor, type WebSocketLike } from './socket.js';
export type { TransportName, TransportOption } from './transport-connection.js';
export { eventsUrlFor, type EventSourceConstructor, type EventSourceLike } from './transport-sse.js';
export { BROADCAST_CHANNEL, EVERYONE_CHANNEL, CloseCode, ErrorCode, shouldReconnect, userChannel, matchesPattern, patternError, type HubMessage } from '../pkg/protocol/index.js';
