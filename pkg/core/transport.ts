/**
 * The transport seam: what a transport implements, and what the hub gives it. Public as
 * `livehub/transport` (pkg/transport/index.ts); the built-in WebSocket and SSE transports use exactly
 * this and nothing else of the hub.
 *
 * The hub's loop knows sessions, not sockets. A session owns everything that is the same whatever
 * carries it (identity, channels, stream positions, the outbound queue and its slow-consumer policy,
 * the inbound rate limit); its transport owns the wire: WebSocket frames on an upgraded socket,
 * Server-Sent Events on a streaming HTTP response, or an app's own. A transport endpoint is added
 * with `hub.addTransport(endpoint)`: the hub calls `start(host)`, and from then on the endpoint
 * admits each connection through `host.admit` and hands it to `host.open`, which returns the
 * session it reports the connection's events to.
 *
 * The fan-out encodes a turn's messages of a channel once per wire format (`encodeMessages`), and
 * every session of that format gets the same encoding through `frames`: the WebSocket transport
 * hands the shared buffer on as it is; SSE adds the one line each of its streams needs of its own
 * (the resume id). Nothing is encoded once per subscriber unless the format needs it.
 */
import type { Duplex } from 'node:stream';
import type { HubMessage, StreamPosition } from '../protocol/index.js';
import type { EngineRecords } from '../engine/engine.js';
import type { Identity } from './auth.js';
import type { ResolvedHubOptions } from './options.js';
import type { RequestInfo } from './policy.js';
import type { Reporter } from './report.js';

/** What `hub.history` reads: how many publications, and from where. */
export interface HistoryOptions {
  /**
   * The most publications to return.
   * @default 100
   */
  limit?: number;
  /** Read the publications after this position (oldest first) instead of the newest ones. */
  since?: StreamPosition;
}

/** How one kind of transport lays hub messages and replies on its wire. */
export interface WireFormat<Shared = unknown> {
  /** A stable name, for logs and metrics (`websocket`, `sse`). */
  readonly name: string;
  /**
   * A turn's messages of one channel (JSON payloads, with their stream offsets, ascending, and their
   * types), encoded once for every session of this format.
   */
  encodeMessages(channel: string, offsets: readonly number[], payloads: readonly string[], types: readonly string[]): Shared;
  /** One reply (a JSON object that is not a hub message: `subscribed`, `ack`, an error…). */
  encodeReply(json: string): Buffer;
}

/** What a session may ask of its transport: one writer per connection. */
export interface Transport<Shared = unknown> {
  /** The transport's name (`websocket`, `sse`), for logs, metrics and the handler context. */
  readonly name: string;
  /** Its wire format, shared by all its connections (the fan-out groups encodings by it). */
  readonly format: WireFormat<Shared>;
  /** Whether writes are still taken (false once closing or closed). */
  readonly writable: boolean;
  /** Bytes handed to the transport and not yet sent (its own buffer): the backpressure signal. */
  readonly writableLength: number;
  /** The bytes this session sends for a shared encoding of `channel`'s messages at `offsets`. */
  frames(shared: Shared, channel: string, offsets: readonly number[]): Buffer;
  /**
   * The bytes of a reply for this session, when the transport must see replies (SSE tracks stream
   * positions from `subscribed` and `reset`); without it, the format's `encodeReply` is used. A
   * `subscribed` with `recovered: true` is followed at once by its replay, up to `offset`.
   */
  replyFrames?(reply: { type: string; channel?: string; offset?: number; epoch?: string; recovered?: boolean }, json: string): Buffer;
  /** Writes buffers in order, as one write. */
  write(chunks: readonly Buffer[], count: number): void;
  /** Calls `listener` once when the transport's buffer has drained. */
  onceDrain(listener: () => void): void;
  offDrain(listener: () => void): void;
  /** Asks the peer for a sign of life (a WebSocket ping; an SSE comment). */
  ping(): void;
  /** Closes with a code and reason (already clamped to 123 UTF-8 bytes). May throw; the session then terminates. */
  close(code: number, reason: string): void;
  /** Drops the connection at once. */
  terminate(): void;
}

/**
 * What a transport tells its session (the value `host.open` returns). The transport calls these from
 * its network callbacks; none of them throws.
 */
export interface TransportEvents {
  /** The session's id (`<node>-<n>`), as handlers, events and `from.client` know it. */
  readonly id: string;
  /** An inbound text message (a JSON command). */
  receive(text: string): void;
  /** The peer showed it is alive (a pong). */
  alive(): void;
  /** The peer pinged (counts against the inbound rate limit); false when the limit refused it, which then goes unanswered. */
  pinged(): boolean;
  /** The connection failed. */
  failed(error: Error): void;
  /** The connection is closed (whoever closed it); `code` and `reason` when known. */
  closed(code?: number, reason?: string): void;
}

/** A connection the gate admitted: who it is (null: anonymous). */
export interface Admitted {
  identity: Identity | null;
}

/** Why a connection was refused: the HTTP status to answer with, the error code, and headers. */
export interface Refusal {
  status: number;
  /** `origin_refused`, `unauthorized`, `refused` (a connection cap) or `internal`. */
  code: string;
  headers?: Record<string, string>;
}

export function isRefusal(value: Admitted | Refusal): value is Refusal {
  return 'status' in value;
}

/** What the hub gives a transport endpoint when it starts it. */
export interface TransportHost {
  /** The hub's resolved options (read-only): limits, keepHeaders, codec, pingPeriod… */
  readonly options: Readonly<ResolvedHubOptions>;
  /** Where a transport logs: each line names the cause and what to change. */
  readonly reporter: Reporter;
  /** This node's id: the first part of its session ids. */
  readonly node: string;
  /** True once the hub drains or closes: refuse new connections (503 with Retry-After). */
  readonly closing: boolean;
  /**
   * The gate every connection passes: the origin check (unless `originChecked`), the connection caps
   * (in all, per IP, per user) and authentication. An admitted connection holds its slot until
   * `socket` closes. Synchronous when the hub has no `authenticate` hook.
   *
   * `request` is the connection's HTTP request, or, for a transport without one (plain TCP, say), a
   * request-like object: its `headers` (an `authorization` header carries a credential the way
   * `jwtAuthenticator` reads it), `url`, `method` and `socket`. The hub's hooks (`authenticate`,
   * `origins`, `clientIp`, `authorize`) then see that object.
   */
  admit(request: RequestInfo, socket: Duplex, options?: { originChecked?: boolean }): Admitted | Refusal | Promise<Admitted | Refusal>;
  /** Whether the request's Origin may connect (requests without one may). */
  originAllowed(request: RequestInfo): boolean;
  /** Logs a refused origin with the setting that would allow it. */
  refusedOrigin(request: RequestInfo): void;
  /**
   * What the session keeps of its request (the `keepHeaders` option applied): policies and handlers
   * see it. `live`: the request lives as long as the session (an SSE stream), so it is not copied.
   */
  requestInfo(request: RequestInfo, options?: { live?: boolean }): RequestInfo;
  /**
   * Starts a session for an admitted connection; the transport then reports its events to it.
   * `fullProtocol` (default true): whether the peer speaks livehub's full protocol rather than the
   * plain one (see docs/protocol.md).
   */
  open(transport: Transport, request: RequestInfo, identity: Identity | null, options?: { fullProtocol?: boolean }): TransportEvents;
  /**
   * Sends a message to another node's endpoint of the same `topic`, through the engine (never stored,
   * never fanned out to clients). Resolves true once it reached that node, false when no node of that
   * id is running (a made-up or dead node: answer the client, keep nothing); rejects when the engine
   * could not take it.
   */
  sendToNode(node: string, topic: string, data: string): Promise<boolean>;
  /** Receives the messages other nodes send this node under `topic`. One handler per topic. */
  onNodeMessage(topic: string, handler: (data: string) => void): void;
  /**
   * Publishes on behalf of a connection, also once it has closed (an MQTT last will): the hub's
   * channel policy (`authorize`, `canPublish`) decides as for that connection's own publish, and the
   * message is stamped `from` it. `dataJson` is the data as JSON text. Resolves with the message's
   * position; rejects with a `LivehubError` of code `forbidden` (the policy refused: logged), or of a
   * failed publish (`unavailable`, `closed`…); with a TypeError for an invalid channel, type, tags
   * or JSON.
   */
  publish(channel: string, type: string, dataJson: string, options: PublishAs): Promise<StreamPosition>;
  /**
   * A channel's last `limit` messages still in history (at most its history size), oldest first, and
   * its current position, as `hub.history` returns them (`complete` false: history no longer holds
   * all of them, and none are returned). With `since`, the first `limit` messages after that
   * position (a reader catching up).
   */
  history(channel: string, options?: HistoryOptions): Promise<{ position: StreamPosition; messages: HubMessage[]; complete: boolean }>;
  /**
   * A message a transport delivers to a session outside the fan-out (read with `history`), as that
   * session gets messages live: the hub's outgoing hook (`hub.outgoing`) run for it, or null when
   * the hook drops it for that session. `session` is one `open` returned.
   */
  outgoing(session: TransportEvents, message: HubMessage): HubMessage | null;
  /**
   * The engine's records, shared by every node (`EngineRecords`: put, one atomic take, delete, each
   * until its expiry), or null when the engine keeps none: what a transport keeps of a connection
   * for a later one on any node (an MQTT persistent session).
   */
  readonly records: EngineRecords | null;
  /**
   * Whether the channel policy (the built-in rules, then `authorize` or `canPublish`) lets a
   * connection subscribe to or publish on `channel`, as its own command would be decided: for reads a
   * transport serves itself (presence and history of a channel it may subscribe to). A refusal is
   * logged with what would let it pass; a hook that throws denies. Throws a TypeError for an invalid
   * channel or action.
   */
  authorize(action: 'subscribe' | 'publish', channel: string, as: Pick<PublishAs, 'identity' | 'request' | 'clientId'>): Promise<boolean>;
}

/** Who a transport publishes for (`TransportHost.publish`): a connection, as the channel policy sees it. */
export interface PublishAs {
  /** The connection's identity (null: anonymous). */
  identity: Identity | null;
  /** What the connection kept of its request (`host.requestInfo`). */
  request: RequestInfo;
  /** The connection's id (its session's, `TransportEvents.id`): the message's `from.client`. */
  clientId: string;
  /** The message's tags (at most 16: keys of A-Z a-z 0-9 _ -, string values of at most 256 characters). */
  tags?: Record<string, string>;
  /** Every subscriber but the connection `clientId` gets the message, as a client's publish with `exceptSelf`. */
  exceptSelf?: boolean;
}

/** A transport an app adds with `hub.addTransport`: the hub starts it, and stops it on `hub.close()`. */
export interface TransportEndpoint {
  /** A stable name, unique in the hub (`websocket`, `sse`, `mqtt`…). */
  readonly name: string;
  /** Starts taking connections; may resolve later (a listening port). */
  start(host: TransportHost): void | Promise<void>;
  /** Stops taking connections (the hub closes the sessions itself). */
  stop(): void | Promise<void>;
}
