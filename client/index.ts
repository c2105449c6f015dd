/** livehub/client: the framework-free client. */
export {
  LiveClient, LiveError, resolveUrl,
  type LiveClientOptions, type LiveStatus, type MessageHandler, type WebSocketConstructor, type WebSocketLike,
} from './live-client.js';
export { BROADCAST_CHANNEL, CloseCode, ErrorCode, shouldReconnect, type HubMessage } from '../pkg/protocol.js';
