/**
 * The MQTT endpoint: a transport on livehub's public transport API. It listens on a TCP port of its
 * own and, once attached to the app's HTTP server, takes MQTT over WebSocket (subprotocol `mqtt`) at
 * `/mqtt`; both run each connection through the same handshake (handshake.ts) into a hub session.
 */
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { TransportEndpoint, TransportHost } from '../index.js';
import { dispatcherFor, handedOver, rejectUpgrade, releaseDispatcher } from '../websocket/upgrade.js';
import { Handshake, type HandshakeSettings } from './handshake.js';
import type { MqttConnection } from './connection.js';
import { SessionStore } from './session-store.js';
import { NAME_PATTERN } from '../../protocol/index.js';

/** Options of `new MqttEndpoint(options)`. */
export interface MqttOptions {
  /** The TCP port to listen on (0: any free one, then read `endpoint.port`). Without it, no TCP listener. */
  port?: number;
  /** The address to listen on. @default all addresses, as `net.Server.listen` */
  host?: string;
  /** The path `attach(server)` takes MQTT over WebSocket at. @default '/mqtt' */
  path?: string;
  /** Milliseconds a connection may take to send its CONNECT before it is closed. @default 10000 */
  connectTimeout?: number;
  /** The largest packet a device may send, in bytes. @default the hub's maxMessageSize */
  maxPacketSize?: number;
  /** The type of the messages devices publish (an MQTT 5 user property `type` overrides it). @default 'message' */
  type?: string;
  /**
   * The longest a persistent session is kept after its device went away, in seconds: an MQTT 5
   * session expiry interval above it is lowered to it (the CONNACK says so), and an MQTT 3.1.1
   * session (clean session false) is kept this long. @default 7200
   */
  sessionExpiry?: number;
  /** How many sessions of devices that are away are stored at most; past it the oldest ends (logged). @default 10000 */
  maxSessions?: number;
  /**
   * QoS 1 deliveries a device may leave unacknowledged at a time, whatever receive maximum it
   * announces (the lower one applies): each is kept until its PUBACK, so this bounds what a device
   * that reads but never acknowledges costs. More wait, and a device with more than `sendBuffer`
   * waiting is closed as a slow consumer (logged `mqtt_slow_consumer`). @default 100
   */
  maxInflight?: number;
}

const OPTIONS = ['port', 'host', 'path', 'connectTimeout', 'maxPacketSize', 'type', 'sessionExpiry', 'maxSessions', 'maxInflight'];
/** The WebSocket subprotocols of MQTT: `mqtt` (MQTT 3.1.1 and 5), and `mqttv3.1` of older clients. */
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'];

/**
 * MQTT 3.1.1 and 5.0 for devices, on the hub's channels: `hub.addTransport(new MqttEndpoint({ port: 1883 }))`,
 * and `endpoint.attach(server)` for MQTT over WebSocket. See docs/mqtt.md.
 */
export class MqttEndpoint implements TransportEndpoint {
  readonly name = 'mqtt';
  private readonly options: Readonly<MqttOptions>;
  private host: TransportHost | null = null;
  private handshake: Handshake | null = null;
  private sessions: SessionStore | null = null;
  private server: NetServer | null = null;
  private wss: WebSocketServer | null = null;
  private readonly attached = new Map<Server, string>();
  private readonly waiting: Array<[Server, string]> = [];
  /** Connections before their CONNECT is accepted (closed on stop). */
  private readonly opening = new Set<Duplex>();
  /** Open connections by client id: a second CONNECT with the same id takes the session over. */
  readonly clients = new Map<string, MqttConnection>();

  constructor(options: MqttOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('livehub: MqttEndpoint options must be an object');
    for (const key of Object.keys(options)) {
      if (!OPTIONS.includes(key)) throw new TypeError(`livehub: unknown MqttEndpoint option ${JSON.stringify(key)} (known: ${OPTIONS.join(', ')})`);
    }
    const { port, host, path, connectTimeout, maxPacketSize, type, sessionExpiry, maxSessions, maxInflight } = options;
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new TypeError('livehub: MqttEndpoint port must be an integer from 0 to 65535');
    if (host !== undefined && typeof host !== 'string') throw new TypeError('livehub: MqttEndpoint host must be a string');
    if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/'))) throw new TypeError('livehub: MqttEndpoint path must be a string starting with "/"');
    if (connectTimeout !== undefined && (!Number.isFinite(connectTimeout) || connectTimeout <= 0)) throw new TypeError('livehub: MqttEndpoint connectTimeout must be a positive number of milliseconds');
    if (maxPacketSize !== undefined && (!Number.isInteger(maxPacketSize) || maxPacketSize < 64)) throw new TypeError('livehub: MqttEndpoint maxPacketSize must be an integer of at least 64 bytes');
    if (type !== undefined && (typeof type !== 'string' || !NAME_PATTERN.test(type))) throw new TypeError('livehub: MqttEndpoint type must be a valid message type (1-255 characters of A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $)');
    if (sessionExpiry !== undefined && (!Number.isInteger(sessionExpiry) || sessionExpiry < 0 || sessionExpiry > 0xffffffff)) throw new TypeError('livehub: MqttEndpoint sessionExpiry must be a whole number of seconds from 0 to 4294967295');
    if (maxSessions !== undefined && (!Number.isInteger(maxSessions) || maxSessions < 0)) throw new TypeError('livehub: MqttEndpoint maxSessions must be a non-negative integer');
    if (maxInflight !== undefined && (!Number.isInteger(maxInflight) || maxInflight < 1 || maxInflight > 0xffff)) throw new TypeError('livehub: MqttEndpoint maxInflight must be a whole number from 1 to 65535');
    this.options = { ...options };
  }

  start(host: TransportHost): Promise<void> | void {
    this.host = host;
    const settings: HandshakeSettings = {
      connectTimeout: this.options.connectTimeout ?? 10_000,
      maxPacketSize: this.options.maxPacketSize ?? host.options.maxMessageSize,
      type: this.options.type ?? 'message',
      sessionExpiry: this.options.sessionExpiry ?? 7200,
      maxInflight: this.options.maxInflight ?? 100,
    };
    this.sessions = new SessionStore(this.options.maxSessions ?? 10_000, host.reporter, host.records);
    this.handshake = new Handshake(host, settings, this.clients, this.opening, this.sessions);
    for (const [server, path] of this.waiting.splice(0)) this.attach(server, { path });
    const { port } = this.options;
    if (port === undefined) return;
    const server = (this.server = createServer((socket) => this.accept(socket)));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  /** How many sessions of devices that are away it stores (persistent sessions, until they expire). */
  get storedSessions(): number {
    return this.sessions?.size ?? 0;
  }

  /** The TCP port it listens on (0 until it listens, and without a `port` option). */
  get port(): number {
    const address = this.server?.address() as AddressInfo | null | undefined;
    return address ? address.port : 0;
  }

  /**
   * Takes MQTT over WebSocket at `path` (default `/mqtt`) on the app's HTTP server, beside the hub's
   * own WebSocket path (`hub.attach`). A page's Origin must be one the hub allows; its cookies and
   * headers reach `authenticate` with the CONNECT's credentials.
   */
  attach(server: Server, options: { path?: string } = {}): this {
    for (const key of Object.keys(options)) if (key !== 'path') throw new TypeError(`livehub: unknown MqttEndpoint.attach option ${JSON.stringify(key)} (known: path)`);
    const path = options.path ?? this.options.path ?? '/mqtt';
    if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError('livehub: MqttEndpoint.attach path must be a string starting with "/"');
    if (this.host === null) {
      this.waiting.push([server, path]);
      return this;
    }
    this.wss ??= new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: (this.options.maxPacketSize ?? this.host.options.maxMessageSize) + 8,
      handleProtocols: (offered: Set<string>) => SUBPROTOCOLS.find((name) => offered.has(name)) ?? false,
    });
    dispatcherFor(server).paths.set(path, (request, socket, head) => this.upgrade(request, socket, head));
    this.attached.set(server, path);
    return this;
  }

  stop(): Promise<void> {
    for (const [server, path] of this.attached) releaseDispatcher(server, [path], false);
    this.attached.clear();
    for (const socket of this.opening) socket.destroy();
    this.wss?.close();
    this.sessions?.clear();
    this.handshake?.stop();
    const server = this.server;
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    this.handshake!.begin(socket, { headers: {}, url: '/', method: 'CONNECT', socket }, socket);
  }

  /** An HTTP upgrade to the MQTT path: the Origin check, then the WebSocket handshake, then MQTT's. */
  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const host = this.host!;
    if (host.closing) return rejectUpgrade(socket, 503, { 'Retry-After': '1' });
    if (!host.originAllowed(request)) {
      host.refusedOrigin(request);
      return rejectUpgrade(socket, 403);
    }
    const offered = String(request.headers['sec-websocket-protocol'] ?? '').split(',').map((name) => name.trim());
    if (!offered.some((name) => SUBPROTOCOLS.includes(name))) {
      host.reporter.report('warn', 'mqtt_no_subprotocol', `livehub: an upgrade to the MQTT path ${request.url} offered no MQTT subprotocol (${offered.join(', ') || 'none'}); refused with 400: an MQTT client offers "mqtt"`);
      return rejectUpgrade(socket, 400);
    }
    this.wss!.handleUpgrade(request, socket, head, (ws) => {
      handedOver(socket);
      const stream = createWebSocketStream(ws);
      stream.on('error', () => stream.destroy());
      // A WebSocket that closes without an MQTT DISCONNECT (the page or device dropped it) only ends the
      // stream's reading side; the connection is over, so close it, once what came before is read.
      stream.on('end', () => stream.destroy());
      const { headers, url, method } = request;
      this.handshake!.begin(stream, { headers, url, method, socket: request.socket }, socket);
    });
  }
}
