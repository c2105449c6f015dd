import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { SUBPROTOCOL } from '../../protocol/index.js';
import { isRefusal, type Identity, type TransportEndpoint, type TransportHost } from '../index.js';
import { jsCodec, type FrameCodec } from './codec.js';
import {
  adoptFromRequestPath, dispatcherFor, handedOver, isUpgradeRequest, kUpgradeHead, rejectUpgrade, releaseDispatcher, serverOf,
  type UpgradeRequest,
} from './upgrade.js';
import { loadWasmCodec } from './wasm-codec.js';
import { HubWebSocket, webSocketFormat, WebSocketTransport } from './websocket.js';

/** Socket reads ws may buffer before parsing them; a flood of tiny TCP segments beyond closes (1008). */
const MAX_BUFFERED_CHUNKS = 1024;

/**
 * The WebSocket endpoint of a hub, a transport on the public transport API: the upgrade (through
 * Express routes or an attached path), the handshake checks, the hub's gate (origin, caps,
 * authentication), and one `WebSocketTransport` per connection handed to the hub as a session.
 */
export class WebSocketEndpoint implements TransportEndpoint {
  readonly name = 'websocket';
  format!: ReturnType<typeof webSocketFormat>;
  codec!: FrameCodec;
  private hub!: TransportHost;
  private wss!: WebSocketServer;
  /** Servers this endpoint listens on, with the paths it attached and whether it routes via the app. */
  private readonly servers = new Map<Server, { paths: Set<string>; viaApp: boolean }>();

  start(hub: TransportHost): void {
    this.hub = hub;
    const { options } = hub;
    this.codec = options.codec === 'wasm' ? loadWasmCodec() : typeof options.codec === 'object' ? options.codec : jsCodec;
    this.format = webSocketFormat(this.codec);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxMessageSize,
      maxFragments: options.maxFragments,
      maxBufferedChunks: MAX_BUFFERED_CHUNKS,
      perMessageDeflate: options.perMessageDeflate,
      clientTracking: false,
      // Connections hand their events to their sessions without listeners, and livehub answers pings
      // itself (only those the inbound rate limit admits): see HubWebSocket.
      WebSocket: HubWebSocket,
      autoPong: false,
      // livehub's own clients ask for the full protocol; others get the plain one (docs/protocol.md).
      handleProtocols: (offered: Set<string>) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    } as ConstructorParameters<typeof WebSocketServer>[0]);
  }

  /** Express handler: `app.get('/ws', hub.handleWebSocket)`. A non-upgrade request gets 426. */
  handleRequest(request: IncomingMessage, response: ServerResponse): void {
    const upgrade = request as UpgradeRequest;
    const head = upgrade[kUpgradeHead];
    if (head) {
      delete upgrade[kUpgradeHead];
      response.detachSocket(request.socket);
      this.handleUpgrade(request, request.socket, head);
      return;
    }
    if (!isUpgradeRequest(request)) {
      response.writeHead(426, { Upgrade: 'websocket', 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('Upgrade Required: this endpoint speaks WebSocket\n');
      return;
    }
    // The server had no upgrade listener yet, so Node sent the upgrade down the request path.
    const server = serverOf(request);
    if (server) this.watch(server, undefined);
    if (adoptFromRequestPath(request, response)) {
      this.handleUpgrade(request, request.socket, Buffer.alloc(0));
    } else {
      response.writeHead(503, { 'Retry-After': '1', 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('Service Unavailable: call hub.attach(server) at startup\n');
    }
  }

  /** Routes `path` (or, without one, upgrades through the app) on `server` to this endpoint. */
  watch(server: Server, path: string | undefined): void {
    const dispatcher = dispatcherFor(server);
    let mine = this.servers.get(server);
    if (!mine) this.servers.set(server, (mine = { paths: new Set(), viaApp: false }));
    if (path === undefined) {
      dispatcher.viaApp = mine.viaApp = true;
    } else {
      dispatcher.paths.set(path, (req, socket, head) => this.handleUpgrade(req, socket, head));
      mine.paths.add(path);
    }
  }

  /**
   * Completes an upgrade from a raw `upgrade` event. Before the upgrade: 503 while closing, 400 for a
   * malformed handshake, then the gate's answers (403 origin, 429/503 caps, 401 credentials).
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.hub.closing) return rejectUpgrade(socket, 503, { 'Retry-After': '1' });
    if (!isWellFormedHandshake(request)) return rejectUpgrade(socket, 400);
    const admitted = this.hub.admit(request, socket);
    const proceed = (verdict: Awaited<typeof admitted>) => {
      if (socket.destroyed) return;
      if (isRefusal(verdict)) return rejectUpgrade(socket, verdict.status, verdict.headers);
      if (this.hub.closing) return rejectUpgrade(socket, 503, { 'Retry-After': '1' });
      this.wss.handleUpgrade(request, socket, head, (ws) => {
        handedOver(socket);
        this.adopt(ws, request, verdict.identity);
      });
    };
    if (admitted instanceof Promise) admitted.then(proceed, () => rejectUpgrade(socket, 500));
    else proceed(admitted);
  }

  /** Hands an open `ws` connection to the hub as a session. */
  adopt(ws: WebSocket, request: IncomingMessage, identity: Identity | null): void {
    const transport = new WebSocketTransport(ws, this.format);
    const session = this.hub.open(transport, this.hub.requestInfo(request), identity, { fullProtocol: ws.protocol === SUBPROTOCOL });
    transport.bind(session);
  }

  /** Stops taking upgrades. */
  stop(): void {
    for (const [server, mine] of this.servers) releaseDispatcher(server, mine.paths, mine.viaApp);
    this.wss.close();
  }
}

/** The parts of the handshake ws would refuse anyway, checked before any authentication work. */
function isWellFormedHandshake(request: IncomingMessage): boolean {
  const key = request.headers['sec-websocket-key'];
  return request.method === 'GET' && request.headers['sec-websocket-version'] === '13' &&
    typeof key === 'string' && /^[+/0-9A-Za-z]{22}==$/.test(key.trim());
}
