import type { PresenceMember, PresenceStatus, StreamPosition } from '../../pkg/protocol/index.js';
import type { MessageHandler } from '../events.js';
import type { LiveClient } from '../live-client.js';
import type { DirectListeners } from '../request.js';
import type { TransportName } from '../transport-connection.js';
import type { ChannelStatus } from './channel-state.js';
import type { ConnectionState } from './connection.js';
import type { RealtimeEvent } from './event-log.js';

/**
 * What each binding's hooks return, defined once for every framework: a hook's state (kept
 * current: Vue gives each field as a read-only ref, React as a plain value, see `ReactShape` and
 * livehub/vue's `VueShape`) and its actions (the same functions everywhere). The bindings derive
 * their return types from these, so the two cannot drift apart.
 */

/** React's form of a hook's return: the state's fields as plain values, and the actions. */
export type ReactShape<State, Actions> = { readonly [K in keyof State]: State[K] } & Actions;

/** The actions of a hook that has none (`useConnectionState()`). */
export type Nothing = Record<never, never>;

/** `useConnectionState()`: where the connection stands. */
export type ConnectionShape = ConnectionState;

/** The action of every hook with a `gap`. */
export interface GapActions {
  /** Forgets the gap shown in `gap`: call it once the page has reloaded what it lists. */
  clearGap(): void;
}

/**
 * `useLiveUpdate()`'s state. `error` is the client's last error, whatever it was about (a refused
 * subscribe, publish or request included); `gap` is about the channels this hook's `on()` and
 * `subscribe()` hold.
 */
export interface LiveUpdateState extends ConnectionState, Pick<ChannelStatus, 'gap'> {
  /** `'websocket'` or `'sse'` (with `transport: 'auto'` it can change); null before the first attempt. */
  readonly transport: TransportName | null;
}

/** `useLiveUpdate()`'s actions: what `on`, `subscribe` and `direct.on` registered ends with the component (or scope). */
export interface LiveUpdateActions extends GapActions {
  /**
   * Calls `handler(data, message)` for messages on `channel` (subscribing while any is on); returns
   * the function that stops it. `since` resumes from a server position (e.g. Inertia props) so
   * nothing is missed or doubled. `"*"`: every message the connection receives.
   */
  on<T = unknown>(channel: string, handler: MessageHandler<T>, options?: { since?: StreamPosition }): () => void;
  off<T = unknown>(channel: string, handler: MessageHandler<T>): void;
  subscribe(channel: string): void;
  unsubscribe(channel: string): void;
  /** Publishes a message of `type` (the server must allow it); resolves on the server's ack. `exceptSelf`: not back to this connection. */
  publish(channel: string, type: string, data?: unknown, options?: { exceptSelf?: boolean }): Promise<void>;
  /** Asks a server-side handler (`hub.handle(type)`); resolves with its reply (see `LiveClient.request`). */
  request: LiveClient['request'];
  /** Sends a message of the app's own type, fire-and-forget (see `LiveClient.send`). */
  send: LiveClient['send'];
  /** Direct messages the server sends this connection alone: `direct.on(type, handler)` returns the function that stops it. */
  readonly direct: DirectListeners;
  /** Closes the connection for good (nothing reconnects until `reconnect()`), for every user of this client. */
  disconnect(): void;
  /** Opens the connection again after `disconnect()` (nothing while it is open or opening). */
  reconnect(): void;
  /** The client (made now if needed: call it from effects and event handlers, not during a render). */
  getClient(): LiveClient;
}

/** `useChannel()`'s state: the channel's refusal (`error`) and the messages it lost (`gap`). */
export type ChannelState = ChannelStatus;

/** `useChannel()`'s actions. */
export interface ChannelActions extends GapActions {
  /**
   * Publishes a message of `type` on the hook's channel; rejects with a TypeError while there is no
   * channel, and with the server's refusal (also shown in `error`).
   */
  publish(type: string, data?: unknown): Promise<void>;
}

/** `usePresence()`'s state: the members, and `error` when the server refused the channel (then no one is listed). */
export interface PresenceState extends Pick<ChannelStatus, 'error'> {
  /** Who is in the channel: one entry per user, kept current by join, leave and update events. */
  readonly members: readonly PresenceMember[];
  /** How many users are in the channel. */
  readonly count: number;
}

/** `usePresence()`'s actions. */
export interface PresenceActions {
  /** Sets this connection's status (others see an update). */
  setStatus(status: PresenceStatus): Promise<void>;
}

/** `useRealtime()`'s state: `error` and `gap` are about its channels. */
export interface RealtimeState<T> extends ChannelStatus {
  /** The kept events, oldest first (a new array on each event). */
  readonly events: readonly RealtimeEvent<T>[];
  /** True while the connection is open. */
  readonly connected: boolean;
  /**
   * The same as `connected`.
   * @deprecated Use `connected`, the name every other hook uses.
   */
  readonly isConnected: boolean;
}

/** `useRealtime()`'s actions. */
export interface RealtimeActions extends GapActions {
  /** Opens the connection again after `disconnect()` (nothing while it is open or opening). */
  reconnect(): void;
  /** Closes the connection for good, for every user of this client, until `reconnect()`. */
  disconnect(): void;
  clearEvents(): void;
}
