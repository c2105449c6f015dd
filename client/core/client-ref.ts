import { LiveClient } from '../live-client.js';
import type { LiveClientOptions } from '../options.js';
import { DEFAULT_RELEASE_DELAY, DeferredCount } from './deferred.js';

/**
 * A client made on first use: nothing is constructed (no socket, no `window` listener) until
 * `get()`, which bindings call only after mount, never during a (server) render. An owned client is
 * disposed `releaseDelay` ms after its last `retain()` is released, unless retained again meanwhile:
 * a StrictMode remount keeps the one connection.
 */
export class ClientRef {
  private client: LiveClient | null;
  private readonly count: DeferredCount;

  constructor(private readonly create: () => LiveClient, readonly owned: boolean, releaseDelay = DEFAULT_RELEASE_DELAY) {
    this.client = null;
    this.count = new DeferredCount(() => {}, () => {
      if (!this.owned || !this.client) return;
      this.client.dispose();
      this.client = null;
    }, releaseDelay);
  }

  /** A ref to a client the app made (never disposed here). */
  static of(client: LiveClient): ClientRef {
    const ref = new ClientRef(() => client, false);
    ref.client = client;
    return ref;
  }

  /** A ref that makes `new LiveClient(url, options)` on first use and disposes it after the last holder. */
  static lazy(url: string, options: LiveClientOptions = {}): ClientRef {
    if (typeof url !== 'string' || url.length === 0) throw new TypeError('livehub: url must be a non-empty string');
    return new ClientRef(() => new LiveClient(url, options), true);
  }

  /** The client if it exists already (null on a server and before first use). */
  get current(): LiveClient | null {
    return this.client;
  }

  /** The client, made now if needed. Call it from effects and event handlers, not from render. */
  get(): LiveClient {
    return (this.client ??= this.create());
  }

  /** Keeps the client alive until the returned release (idempotent). */
  retain(): () => void {
    return this.count.hold();
  }
}
