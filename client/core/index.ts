/**
 * livehub's client core: framework-free stores that the Vue and React bindings (and the Echo
 * connector) share. Each store has `subscribe(listener)` and `getSnapshot()`.
 */
export { Channels, ChannelSession, channelsOf, dispatchTo, type ChannelClient, type ChannelListener, type ListenOptions } from './channels.js';
export { BoundStore, type Binding } from './bound-store.js';
export { ClientRef } from './client-ref.js';
export { ChannelRefusals, ChannelStateStore, checkChannelOptions, NO_CHANNEL_STATUS, refusalsOf, type ChannelStateClient, type ChannelStatus, type Gap, type GapOptions } from './channel-state.js';
export { ConnectionStore, IDLE_STATE, type ConnectionState } from './connection.js';
export { DEFAULT_RELEASE_DELAY, DeferredCount } from './deferred.js';
export { DEFAULT_MAX_EVENTS, EventLog, type RealtimeEvent } from './event-log.js';
export { Inbox, NO_INBOX, type InboxOptions, type InboxState } from './inbox.js';
export { PresenceStore, presenceOf, type PresenceChange } from './presence.js';
export { RealtimeFeed, checkRealtimeOptions, type RealtimeOptions } from './realtime.js';
export { ValueStore, type ReadableStore } from './store.js';
export type {
  ChannelActions, ChannelState, ConnectionShape, GapActions, LiveUpdateActions, LiveUpdateState, Nothing, PresenceActions, PresenceState, RealtimeActions,
  RealtimeState, ReactShape,
} from './shapes.js';
export { TransportStore, type TransportClient } from './transport-store.js';
