import type { LiveClient } from '../live-client.js';
import type { TransportName } from '../transport-connection.js';
import type { ReadableStore } from './store.js';

export type TransportClient = Pick<LiveClient, 'transport' | 'events'>;

/**
 * The transport of a client (`'websocket'`, `'sse'`, null before the first attempt) as a store.
 * `resolve` gives the client once it may be touched (after mount); before that, and on a server,
 * the snapshot is null.
 */
export class TransportStore implements ReadableStore<TransportName | null> {
  private value: TransportName | null = null;

  constructor(private readonly resolve: () => TransportClient | null) {}

  readonly subscribe = (listener: () => void): (() => void) => {
    const client = this.resolve();
    if (!client) return () => {};
    const sync = () => {
      if (client.transport === this.value) return;
      this.value = client.transport;
      listener();
    };
    const stop = client.events.on('transport', sync);
    sync();
    return stop;
  };

  readonly getSnapshot = (): TransportName | null => this.value;

  readonly getServerSnapshot = (): TransportName | null => null;
}
