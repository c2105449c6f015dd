/** livehub/react: hooks over the framework-free client core (client/core), SSR-safe. */
export { LivehubProvider, type ClientOption, type LivehubProviderProps } from './provider.js';
export {
  useChannel, useConnectionState, usePresence, useRealtime, type UseChannelOptions, type UseChannelReturn, type UsePresenceReturn, type UseRealtimeReturn,
} from './hooks.js';
export { useInbox, type UseInboxReturn } from './inbox.js';
export type { InboxOptions, InboxState } from '../core/inbox.js';
export { useLiveUpdate, type UseLiveUpdateOptions, type UseLiveUpdateReturn } from './live-update.js';
export type { ChannelListener } from '../core/channels.js';
export type { Gap } from '../core/channel-state.js';
export type { ConnectionState } from '../core/connection.js';
export type { GapEvent } from '../errors.js';
export type { RealtimeEvent } from '../core/event-log.js';
export type { RealtimeOptions } from '../core/realtime.js';
