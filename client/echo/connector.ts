import { Connector, type ConnectionStatus } from 'laravel-echo';
import { LiveClient } from '../live-client.js';
import type { LiveClientOptions } from '../options.js';
import { LivehubChannel, LivehubPresenceChannel, LivehubPrivateChannel, type ChannelHost, type EchoClient } from './channel.js';

/** The options the connector reads from Echo's (Echo passes all of its own too). */
export interface LivehubEchoOptions {
  /** A livehub client to use (it is not closed by `disconnect()`... it is: Echo's disconnect closes it). */
  client?: EchoClient;
  /** The hub's WebSocket URL, when no `client` is given (`host` is read too). @default '/ws' */
  url?: string;
  /** Options of the `LiveClient` made for `url`. */
  livehub?: LiveClientOptions;
  /**
   * The type of the server handler that answers this connection's id (`hub.handle('whoami', (_m, ctx) =>
   * ({ id: ctx.id }))`), asked after each open for `socketId()`; false: never asked.
   * @default 'whoami'
   */
  whoami?: string | false;
}

type AnyDriver = 'null';

/**
 * Laravel Echo 2 on a livehub server: `new Echo({ broadcaster: LivehubConnector, url: '/ws' })`, and
 * `configureEcho({ broadcaster: LivehubConnector, … })` for `@laravel/echo-vue` / `-react` hooks.
 * Public channels, `private-…` and `presence-…` (Echo's prefixes are livehub's), listen and
 * stopListening, whisper, here/joining/leaving, connection status and `socketId()`.
 * The event namespace is off by default: `listen('OrderShipped')` hears type `OrderShipped`.
 */
export class LivehubConnector extends Connector<AnyDriver, LivehubChannel, LivehubPrivateChannel, LivehubPresenceChannel> implements ChannelHost {
  declare client: EchoClient;
  declare channels: Record<string, LivehubChannel>;
  private declare id: string | undefined;
  private declare statusListeners: Set<(status: ConnectionStatus) => void>;
  private declare errorListeners: Set<(error: Error) => void>;
  private declare stops: Array<() => void>;

  constructor(options: Record<string, unknown>) {
    super({ namespace: false, ...options } as never);
  }

  connect(): void {
    this.channels ??= {};
    this.statusListeners ??= new Set();
    this.errorListeners ??= new Set();
    if (this.client) {
      this.client.connect();
      return;
    }
    const options = this.options as LivehubEchoOptions & { host?: string | null; bearerToken?: string | null };
    const bearer = options.bearerToken;
    this.client = options.client ?? new LiveClient(options.url ?? options.host ?? '/ws', {
      ...(bearer ? { getToken: () => bearer } : {}),
      ...options.livehub,
    });
    const whoami = options.whoami ?? 'whoami';
    const changed = () => { for (const listener of [...this.statusListeners]) listener(this.connectionStatus()); };
    this.stops = [
      this.client.events.on('status', (status) => {
        if (status !== 'open') this.id = undefined;
        changed();
      }),
      this.client.events.on('open', () => {
        if (whoami === false || !this.client.request) return;
        this.client.request<unknown>(whoami).then((data) => {
          const id = typeof data === 'string' ? data : (data as { id?: unknown; client?: unknown } | null)?.id ?? (data as { client?: unknown } | null)?.client;
          if (typeof id !== 'string' || this.client.status !== 'open') return;
          this.id = id;
          changed();
        }, (error: Error) => this.reportError(error));
      }),
    ];
  }

  /** Listens for errors the Echo API cannot throw (a refused whisper, a failed `whoami`). */
  onError(listener: (error: Error) => void): () => void {
    this.errorListeners.add(listener);
    return () => { this.errorListeners.delete(listener); };
  }

  reportError(error: Error): void {
    for (const listener of [...this.errorListeners]) listener(error);
  }

  listen(name: string, event: string, callback: CallableFunction): LivehubChannel {
    return this.channel(name).listen(event, callback);
  }

  channel(name: string): LivehubChannel {
    return (this.channels[name] ??= new LivehubChannel(this, name, this.options));
  }

  privateChannel(name: string): LivehubPrivateChannel {
    return (this.channels[`private-${name}`] ??= new LivehubPrivateChannel(this, `private-${name}`, this.options)) as LivehubPrivateChannel;
  }

  presenceChannel(name: string): LivehubPresenceChannel {
    return (this.channels[`presence-${name}`] ??= new LivehubPresenceChannel(this, `presence-${name}`, this.options)) as LivehubPresenceChannel;
  }

  leave(name: string): void {
    for (const channel of [name, `private-${name}`, `presence-${name}`]) this.leaveChannel(channel);
  }

  leaveChannel(name: string): void {
    const channel = this.channels[name];
    if (!channel) return;
    channel.unsubscribe();
    delete this.channels[name];
  }

  /** This connection's id, as the server stamps it (`from.client`); known after `whoami` answers. */
  socketId(): string | undefined {
    return this.id;
  }

  connectionStatus(): ConnectionStatus {
    switch (this.client.status) {
      case 'open': return 'connected';
      case 'connecting': return 'connecting';
      case 'reconnecting': return 'reconnecting';
      case 'closed': return this.client.lastError ? 'failed' : 'disconnected';
      default: return 'disconnected';
    }
  }

  onConnectionChange(callback: (status: ConnectionStatus) => void): () => void {
    this.statusListeners.add(callback);
    return () => { this.statusListeners.delete(callback); };
  }

  /** Closes the connection for good (Echo's `connect()` opens it again). */
  disconnect(): void {
    this.client.close();
  }
}

/**
 * Echo options for a livehub server: `configureEcho(livehubEcho({ url: '/ws' }))` (@laravel/echo-vue,
 * @laravel/echo-react) or `new Echo(livehubEcho({ url: '/ws' }))`. The hooks' `configureEcho` types
 * list only Echo's built-in broadcasters; this returns the options typed as one of those, while
 * `broadcaster` is the `LivehubConnector` class (what Echo checks at run time).
 */
export function livehubEcho<T extends Record<string, unknown>>(options: LivehubEchoOptions & T): { broadcaster: 'null' } & T {
  return { withoutInterceptors: true, ...options, broadcaster: LivehubConnector } as unknown as { broadcaster: 'null' } & T;
}
