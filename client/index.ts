/** livehub/client: the framework-free client. */
export {
  LiveClient, LiveError, resolveUrl, SUBPROTOCOL,
  type GapEvent, type LiveClientEvents, type LiveClientOptions, type LiveStatus, type MessageHandler, type RecoveredEvent,
  type SubscribeErrorEvent, type WebSocketConstructor, type WebSocketLike,
} from './live-client.js';
export { BROADCAST_CHANNEL, CloseCode, ErrorCode, shouldReconnect, type HubMessage } from '../pkg/protocol.js';
