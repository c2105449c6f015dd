import type { LiveStatus } from '../events.js';
import type { LiveClient } from '../live-client.js';
import type { ReadableStore } from './store.js';

/** Where a connection stands, as one immutable snapshot. */
export interface ConnectionState {
  /** `idle`, `connecting`, `open`, `reconnecting` or `closed`. */
  readonly status: LiveStatus;
  /** True while the connection is open. */
  readonly connected: boolean;
  /**
   * True while the connection is open but a heartbeat the server promised is late: the link may be
   * dead (a network gone silent). The client is probing it and reconnects if nothing answers (within
   * 8 s of the last traffic with the defaults); traffic clears it. Show it ("checking connection…").
   */
  readonly stale: boolean;
  /**
   * The last error (a `LiveError` with a `code`): `connect_failed`, `connect_timeout`, a refused
   * subscribe, an error frame, a terminal close. Null again once the connection opens.
   */
  readonly error: Error | null;
}

/** The state before there is a client (a server render, before the first effect). */
export const IDLE_STATE: ConnectionState = Object.freeze({ status: 'idle', connected: false, stale: false, error: null });

export type ConnectionClient = Pick<LiveClient, 'status' | 'stale' | 'lastError' | 'events'>;

/**
 * The connection state of a client as a store (`useSyncExternalStore`, `shallowRef`): the same
 * snapshot object until the status, staleness or the error changes. `resolve` gives the client once it may be
 * touched (after mount); before that, and on a server, the snapshot is `IDLE_STATE`.
 */
export class ConnectionStore implements ReadableStore<ConnectionState> {
  private snapshot: ConnectionState = IDLE_STATE;

  constructor(private readonly resolve: () => ConnectionClient | null) {}

  /** Listens for changes; the client is looked up (and so may be created) here, never in render. */
  readonly subscribe = (listener: () => void): (() => void) => {
    const client = this.resolve();
    if (!client) return () => {};
    const sync = () => { if (this.refresh(client)) listener(); };
    const stops = [
      client.events.on('status', sync),
      client.events.on('stale', sync),
      client.events.on('error', sync),
      client.events.on('close', sync),
      client.events.on('reply', sync), // a subscribe that succeeds after failing clears its error
    ];
    sync();
    return () => { for (const stop of stops) stop(); };
  };

  readonly getSnapshot = (): ConnectionState => this.snapshot;

  /** For server renders: always idle. */
  readonly getServerSnapshot = (): ConnectionState => IDLE_STATE;

  /** Reads the client now; returns true when the snapshot changed. */
  refresh(client: ConnectionClient | null = this.resolve()): boolean {
    if (!client) return false;
    const { status, lastError: error } = client;
    const stale = status === 'open' && client.stale;
    const previous = this.snapshot;
    if (previous.status === status && previous.stale === stale && previous.error === error) return false;
    this.snapshot = Object.freeze({ status, connected: status === 'open', stale, error });
    return true;
  }
}
