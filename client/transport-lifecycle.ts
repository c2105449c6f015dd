import { CloseCode, HEARTBEAT_FRAME, shouldReconnect, type StreamPosition } from '../pkg/protocol/index.js';
import { ReconnectBackoff } from './backoff.js';
import { Emitter, type Listeners } from './emitter.js';
import { isOnline, watchEnvironment } from './environment.js';
import { clientErrors, LiveError } from './errors.js';
import type { LiveClientEvents, LiveStatus } from './events.js';
import { Heartbeat } from './heartbeat.js';
import { resolveOptions, type LiveClientOptions, type ResolvedOptions } from './options.js';
import { TransportChoice } from './transport-auto.js';
import type { Connection, ConnectionHandlers, TransportName } from './transport-connection.js';
import { eventsUrlOf, prepareOpener, type Opener } from './transport-open.js';

/**
 * The life of a client's connection, whatever its transport: attempts within `connectTimeout`,
 * reconnects with capped exponential backoff and full jitter (its ceiling held at 4 × delay for a
 * while after a 1012 service-restart close), heartbeats, the browser's network and visibility, terminal
 * close codes, the choice between WebSocket and SSE (`transport: 'auto'`), and no reconnect after
 * `close()`. `LiveClient` adds what a session carries (subscriptions, outbox).
 */
export abstract class ConnectionLifecycle {
  status: LiveStatus = 'idle';
  /**
   * The last error (a failed or timed-out connect, a terminal close, a failed reconnect budget, an
   * error frame, a refused subscribe); null again once the connection opens.
   */
  lastError: Error | null = null;
  /**
   * True while the connection is open but a heartbeat the server promised is late: the link may be
   * dead. The client is probing it, and reconnects if the probe goes unanswered; traffic clears it.
   * The `stale` event tells each change.
   */
  get stale(): boolean {
    return this.heartbeat.stale;
  }

  protected readonly options: ResolvedOptions;
  protected readonly emitter = new Emitter<LiveClientEvents>();
  /**
   * The client's own events (not a channel's messages): `client.events.on('status', fn)` returns
   * the function that stops it, `client.events.off('status', fn)` stops it too. Apart from the
   * channels' namespace, so a channel may be called `open` or `error`.
   */
  readonly events: Listeners<LiveClientEvents> = this.emitter.view;
  protected connection: Connection | null = null;
  /** Whether `connection` has opened (a close before that is a failed connect). */
  private connectionOpened = false;
  private currentTransport: TransportName | null = null;
  private readonly heartbeat: Heartbeat;
  private readonly choice: TransportChoice;
  private attempts = 0;
  private readonly backoff: ReconnectBackoff;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** Set from the start of an attempt until its connection exists (finding a class, `getToken()`). */
  private opening: symbol | null = null;
  /** Set while the browser reports no network; the `online` event reconnects. */
  private waitingForNetwork = false;
  private readonly detachGlobal: () => void;

  /** The connection opened: subscribe, send what waits. `resumed`: channels the server resumed by itself. */
  protected abstract sessionOpened(resumed: ReadonlyMap<string, StreamPosition>): void;
  /** The connection dropped: nothing is in flight any more. */
  protected abstract sessionPaused(): void;
  /** A frame's JSON text arrived. */
  protected abstract onFrame(text: string): void;
  /** `close()` was called: reject what waits. */
  protected abstract sessionClosed(): void;

  constructor(readonly url: string, options: LiveClientOptions) {
    if (typeof url !== 'string' || url.length === 0) throw new TypeError('livehub: url must be a non-empty string');
    this.options = resolveOptions(url, options);
    this.backoff = new ReconnectBackoff(this.options.reconnect, this.options.random);
    this.choice = new TransportChoice(this.options.transport, this.options.fallbackAfter, this.options.websocketRetryInterval, {
      openWebSocket: async (handlers) => {
        const opener = await prepareOpener('websocket', this.url, this.options);
        return opener instanceof LiveError || this.stopped ? null : opener(handlers);
      },
      onSse: () => this.status === 'open' && this.connection?.transport === 'sse',
      canAdopt: () => !this.stopped && this.choice.current === 'sse',
      adopt: (connection) => {
        // The stream (or an attempt at one) goes without a close event: an open status stays open.
        this.clearTimer('reconnectTimer');
        this.waitingForNetwork = false;
        this.teardown()?.close();
        this.connection = connection;
        this.connectionOpened = false;
      },
      handlersFor: (current) => this.handlersFor(current),
      connectTimeout: this.options.connectTimeout,
    });
    this.heartbeat = new Heartbeat(this.options.heartbeat, {
      ping: () => this.write('{"type":"ping"}'),
      dead: () => this.dropDeadConnection(),
      stale: (stale) => this.emitter.emit('stale', stale),
    });
    this.detachGlobal = watchEnvironment({
      online: () => { this.reconnectNow(); this.choice.networkBack(); },
      // The network is gone: a connection that looks open is most likely dead (mobile handovers leave
      // it half-open for minutes). Drop it now; `online` brings the connection back.
      offline: () => { if (this.connection) this.dropDeadConnection(false); },
      visible: () => {
        if (this.status !== 'open') this.reconnectNow();
        else if (this.connection?.dialect !== 'plain') this.heartbeat.probe();
      },
    });
  }

  /** The transport of the connection (or of the attempt in progress): `'websocket'` or `'sse'`; null before the first. */
  get transport(): TransportName | null {
    return this.currentTransport;
  }

  /** Opens the connection (again, after `close()`). */
  connect(): void {
    this.stopped = false;
    this.clearTimer('reconnectTimer');
    if (this.connection || this.opening) return;
    this.open();
  }

  /**
   * Closes for good: nothing reconnects until `connect()` is called. Pending publishes and requests
   * are rejected (publishes in `outbox.storage` stay there, for the next client).
   */
  close(): void {
    this.stopped = true;
    this.waitingForNetwork = false;
    this.clearTimer('reconnectTimer');
    this.choice.stop();
    this.teardown()?.close(CloseCode.Normal, 'client closed');
    this.sessionClosed();
    this.setConnectionStatus('closed');
  }

  /** Removes browser listeners as well; the client cannot be reused afterwards. */
  dispose(): void {
    this.close();
    this.detachGlobal();
    this.emitter.clear();
  }

  /** Starts an attempt: finds the transport's class, asks `getToken()`, opens; all within `connectTimeout`. */
  private open(): void {
    if (!isOnline()) {
      // The browser says there is no network: wait for its `online` event instead of failing attempts.
      this.waitingForNetwork = true;
      this.setConnectionStatus('reconnecting');
      return;
    }
    this.setConnectionStatus(this.attempts === 0 ? 'connecting' : 'reconnecting');
    const attempt = Symbol('attempt');
    this.opening = attempt;
    this.connectTimer = setTimeout(() => this.connectTimedOut(), this.options.connectTimeout);
    const transport = this.choice.current;
    const prepared = prepareOpener(transport, this.url, this.options);
    if (!(prepared instanceof Promise)) return this.openWith(transport, prepared);
    prepared.then((opener) => {
      if (this.opening === attempt && !this.stopped) this.openWith(transport, opener);
    }, (error: Error) => {
      if (this.opening !== attempt) return;
      this.opening = null;
      this.clearTimer('connectTimer');
      this.report(error);
      this.scheduleReconnect();
    });
  }

  private openWith(transport: TransportName, opener: Opener | LiveError): void {
    this.opening = null;
    if (opener instanceof LiveError) {
      this.clearTimer('connectTimer');
      // No class for this transport here: `auto` goes on with the other one; otherwise stop.
      if (!this.choice.unavailable()) return this.giveUp(opener);
      this.report(opener);
      return this.open();
    }
    this.setTransport(transport);
    let connection: Connection | null = null;
    try {
      connection = opener(this.handlersFor(() => connection));
    } catch (error) {
      this.clearTimer('connectTimer');
      this.report(error as Error);
      this.scheduleReconnect();
      return;
    }
    this.connection = connection;
    this.connectionOpened = false;
  }

  /** A connection's events, acted on while it is the client's current connection. */
  private handlersFor(current: () => Connection | null): ConnectionHandlers {
    const mine = () => current() !== null && current() === this.connection;
    return {
      open: (resumed) => { if (mine()) this.onOpen(resumed); },
      message: (text) => {
        if (!mine()) return;
        this.heartbeat.traffic();
        if (text === HEARTBEAT_FRAME) return;
        if (text.startsWith('{"type":"connected"')) return this.connected(text);
        this.onFrame(text);
      },
      closed: (code, reason) => { if (mine()) this.onClose(code, reason); },
      interrupted: (code, reason) => { if (mine()) this.onInterrupted(code, reason); },
      failed: (error) => { if (mine()) this.report(error); },
    };
  }

  /** The attempt did not open in time: close it, say so, and try again with backoff. */
  private connectTimedOut(): void {
    this.connectTimer = null;
    if (this.status === 'open') return;
    this.teardown()?.close();
    this.report(clientErrors.connectTimeout(this.targetUrl(), this.options.connectTimeout));
    this.choice.failed();
    this.scheduleReconnect();
  }

  /** Stops the timers and in-flight work of the current attempt; returns its connection, no longer current. */
  private teardown(): Connection | null {
    this.opening = null;
    this.clearTimer('connectTimer');
    this.pauseSession();
    const connection = this.connection;
    this.connection = null;
    return connection;
  }

  /** Nothing is in flight any more: unacked publishes stay in the outbox and go out again (same id) on the next open. */
  private pauseSession(): void {
    this.heartbeat.stop();
    this.sessionPaused();
  }

  private onOpen(resumed: ReadonlyMap<string, StreamPosition>): void {
    this.clearTimer('connectTimer');
    this.connectionOpened = true;
    this.attempts = 0;
    this.backoff.reset();
    this.lastError = null;
    const transport = this.connection!.transport;
    this.choice.opened(transport);
    this.setTransport(transport);
    this.setConnectionStatus('open');
    this.sessionOpened(resumed);
    // A hub of the plain protocol answers no ping (its WebSocket pings keep the link alive): no client heartbeat.
    if (this.connection?.dialect === 'plain') this.heartbeat.stop();
    else this.heartbeat.start();
    this.emitter.emit('open');
  }

  /** The server's first frame: it announces its heartbeat period (none: the client pings when idle). */
  private connected(text: string): void {
    let period: unknown;
    try {
      period = (JSON.parse(text) as { heartbeat?: unknown }).heartbeat;
    } catch {
      return this.report(new LiveError('bad_json', 'the server sent a message that is not JSON'));
    }
    if (typeof period === 'number' && period > 0 && period < Infinity) this.heartbeat.announce(period);
  }

  /**
   * The connection ended. `countFailure`: a close before open counts towards `auto`'s fallback
   * (not when the client dropped it itself because the network went away).
   */
  private onClose(code: number, reason: string, countFailure = true): void {
    const opened = this.connectionOpened;
    const url = this.targetUrl();
    this.teardown();
    this.emitter.emit('close', { code, reason });
    if (this.stopped) return;
    if (code === CloseCode.ServiceRestart) this.backoff.serverRestarting();
    if (!opened) {
      this.report(clientErrors.connectFailed(url, code, reason));
      if (countFailure) this.choice.failed();
    }
    if (code === CloseCode.TokenExpired && this.options.reconnect.enabled) {
      // The credential expired: reconnect now, fetching a fresh token.
      this.clearTimer('reconnectTimer');
      this.setConnectionStatus('reconnecting');
      this.open();
      return;
    }
    if (!this.options.reconnect.enabled || !shouldReconnect(code)) {
      this.giveUp(new LiveError('closed', `closed by the server: ${code} ${reason}`.trim()));
      return;
    }
    this.scheduleReconnect();
  }

  /**
   * The stream dropped and its EventSource reconnects by itself (resuming every channel): a new
   * attempt, which the client takes over if it does not open within `connectTimeout`.
   */
  private onInterrupted(code: number, reason: string): void {
    this.pauseSession();
    this.connectionOpened = false;
    this.emitter.emit('close', { code, reason });
    this.setConnectionStatus('reconnecting');
    this.clearTimer('connectTimer');
    this.connectTimer = setTimeout(() => this.connectTimedOut(), this.options.connectTimeout);
  }

  /** Stops for good (status `closed`) with an error saying why. */
  private giveUp(error: LiveError): void {
    this.clearTimer('connectTimer');
    this.opening = null;
    this.stopped = true;
    this.lastError = error;
    this.setConnectionStatus('closed');
    this.emitter.emit('error', error);
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const { maxAttempts } = this.options.reconnect;
    if (this.attempts >= maxAttempts) {
      return this.giveUp(new LiveError('reconnect_failed', `gave up after ${this.attempts} reconnect attempts`));
    }
    const wait = this.backoff.next();
    this.attempts++;
    this.setConnectionStatus('reconnecting');
    this.reconnectTimer = setTimeout(() => { this.reconnectTimer = null; this.open(); }, wait);
  }

  /**
   * Reconnects now (the network came back, the page became visible): instead of waiting out the
   * backoff, and in place of an attempt still connecting, which may be stuck.
   */
  private reconnectNow(): void {
    if (this.stopped) return;
    const connecting = this.opening !== null || (this.connection !== null && !this.connectionOpened);
    if (!this.reconnectTimer && !this.waitingForNetwork && !connecting) return;
    this.waitingForNetwork = false;
    this.clearTimer('reconnectTimer');
    if (connecting) this.teardown()?.close();
    this.open();
  }

  private dropDeadConnection(countFailure = true): void {
    const connection = this.connection;
    if (!connection) return;
    connection.close(CloseCode.HeartbeatTimeout, 'heartbeat timeout');
    this.onClose(CloseCode.HeartbeatTimeout, 'heartbeat timeout', countFailure);
  }

  /** Closes the open connection normally and opens another at once (the dialect probe found a livehub hub). */
  protected reopen(reason: string): void {
    const connection = this.teardown();
    if (!connection) return;
    connection.close(CloseCode.Normal, reason);
    this.emitter.emit('close', { code: CloseCode.Normal, reason });
    if (this.stopped) return;
    this.setConnectionStatus('reconnecting');
    this.open();
  }

  /** Sends a frame when the connection is open (else drops it: what must go out goes out on open). */
  protected write(frame: string): void {
    if (this.connection?.isOpen) this.connection.send(frame);
  }

  /** The URL the current transport connects to (for error messages; never with a token). */
  private targetUrl(): string {
    if (this.currentTransport !== 'sse') return this.url;
    try {
      return eventsUrlOf(this.url, this.options);
    } catch {
      return this.url;
    }
  }

  protected report(error: Error): void {
    this.lastError = error;
    this.emitter.emit('error', error);
  }

  private setTransport(transport: TransportName): void {
    if (this.currentTransport === transport) return;
    this.currentTransport = transport;
    this.emitter.emit('transport', transport);
  }

  private setConnectionStatus(status: LiveStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.emitter.emit('status', status);
  }

  private clearTimer(name: 'reconnectTimer' | 'connectTimer'): void {
    const timer = this[name];
    if (timer) clearTimeout(timer);
    this[name] = null;
  }
}
