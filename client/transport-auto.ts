import type { Connection, ConnectionHandlers, TransportName, TransportOption } from './transport-connection.js';

/** What the choice needs from its client to try a WebSocket in the background. */
export interface ChoiceHost {
  /** Opens a WebSocket with these handlers; null when none can be opened now. */
  openWebSocket(handlers: ConnectionHandlers): Promise<Connection | null>;
  /** Whether the client is open over SSE (a WebSocket is worth trying). */
  onSse(): boolean;
  /** Whether a WebSocket that opened can be taken (the client was not closed meanwhile). */
  canAdopt(): boolean;
  /** A WebSocket tried in the background opened: the client moves to it. */
  adopt(connection: Connection): void;
  /** The client's handlers for a connection it has adopted (they check it is the current one). */
  handlersFor(connection: () => Connection | null): ConnectionHandlers;
  connectTimeout: number;
}

/**
 * Which transport the next attempt uses. With one transport, always that one. With `auto`:
 * WebSocket, until `fallbackAfter` attempts in a row fail before opening; then SSE (as many SSE
 * failures in a row go back to WebSocket: the server may be down rather than WebSocket blocked).
 * While open on SSE, a WebSocket is tried in the background every `retryInterval` ms and when the
 * network comes back; the first that opens replaces the stream.
 */
export class TransportChoice {
  current: TransportName;
  private failures = 0;
  /** Transports with no implementation here (no EventSource in Node without the option). */
  private readonly missing = new Set<TransportName>();
  private probeTimer: ReturnType<typeof setTimeout> | null = null;
  private probe: { connection: Connection | null; timer: ReturnType<typeof setTimeout> | null } | null = null;
  /** The network came back while the stream was down: try a WebSocket as soon as the stream is open again. */
  private probeOnOpen = false;

  constructor(
    private readonly option: TransportOption,
    private readonly fallbackAfter: number,
    private readonly retryInterval: number,
    private readonly host: ChoiceHost,
  ) {
    this.current = option === 'sse' ? 'sse' : 'websocket';
  }

  get auto(): boolean {
    return this.option === 'auto';
  }

  /** An attempt on the current transport failed before opening; true when the choice switched. */
  failed(): boolean {
    if (!this.auto || ++this.failures < this.fallbackAfter) return false;
    return this.switchTo(other(this.current));
  }

  /** The current transport cannot be used here at all (no implementation); true when the choice switched. */
  unavailable(): boolean {
    this.missing.add(this.current);
    return this.auto && this.switchTo(other(this.current));
  }

  /** A connection opened on `transport`. */
  opened(transport: TransportName): void {
    this.failures = 0;
    this.current = transport;
    if (!this.auto) return;
    this.stopProbe();
    if (transport === 'sse' && !this.missing.has('websocket')) this.scheduleProbe(this.probeOnOpen ? 0 : this.retryInterval);
    this.probeOnOpen = false;
  }

  /** The network came back: while on SSE, try a WebSocket now (or once the stream is open again). */
  networkBack(): void {
    if (!this.auto || this.current !== 'sse' || this.probe || this.missing.has('websocket')) return;
    if (this.host.onSse()) this.scheduleProbe(0);
    else this.probeOnOpen = true;
  }

  stop(): void {
    this.stopProbe();
  }

  private switchTo(transport: TransportName): boolean {
    if (this.missing.has(transport)) return false;
    this.failures = 0;
    this.current = transport;
    return true;
  }

  private scheduleProbe(delay: number): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => { this.probeTimer = null; this.startProbe(); }, delay);
  }

  /** Opens a WebSocket next to the open stream; on open the client moves to it, else it is tried again later. */
  private startProbe(): void {
    if (!this.host.onSse() || this.probe) return;
    const probe: { connection: Connection | null; timer: ReturnType<typeof setTimeout> | null } = { connection: null, timer: null };
    this.probe = probe;
    let adopted = false;
    const client = this.host.handlersFor(() => (adopted ? probe.connection : null));
    const failed = () => {
      if (this.probe !== probe) return;
      this.endProbe(probe);
      this.scheduleProbe(this.retryInterval);
    };
    probe.timer = setTimeout(failed, this.host.connectTimeout);
    this.host.openWebSocket({
      open: (resumed) => {
        // Taken even if the stream dropped meanwhile: the WebSocket is the better way back.
        if (this.probe !== probe || !this.host.canAdopt()) return failed();
        this.probe = null;
        if (probe.timer) clearTimeout(probe.timer);
        adopted = true;
        this.host.adopt(probe.connection!);
        client.open(resumed);
      },
      message: (text) => { if (adopted) client.message(text); },
      closed: (code, reason) => { if (adopted) client.closed(code, reason); else failed(); },
      interrupted: (code, reason) => { if (adopted) client.interrupted(code, reason); },
      failed: (error) => { if (adopted) client.failed(error); },
    }).then((connection) => {
      if (connection === null) return failed();
      if (this.probe === probe) probe.connection = connection;
      else if (!adopted) connection.close();
    }, failed);
  }

  private endProbe(probe: { connection: Connection | null; timer: ReturnType<typeof setTimeout> | null }): void {
    if (probe.timer) clearTimeout(probe.timer);
    probe.connection?.close();
    if (this.probe === probe) this.probe = null;
  }

  private stopProbe(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    if (this.probe) this.endProbe(this.probe);
  }
}

function other(transport: TransportName): TransportName {
  return transport === 'websocket' ? 'sse' : 'websocket';
}
