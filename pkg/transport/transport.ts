/**
 * Transports: how a hub's sessions reach their peers.
 *
 * The hub's loop knows sessions, not sockets. A session owns everything that is the same whatever
 * carries it (identity, channels, stream positions, the outbound queue and its slow-consumer policy,
 * the inbound rate limit); its transport owns the wire: WebSocket frames on an upgraded socket, or
 * Server-Sent Events on a streaming HTTP response, or whatever comes next (MQTT, WebRTC data
 * channels). A transport is a leaf: it imports the hub's interfaces, and nothing in the hub imports
 * it. Adding one means implementing the two small interfaces below and handing each new connection
 * to `SessionHost.open` (see pkg/realtime/sessions.ts).
 *
 * The fan-out encodes a turn's messages of a channel once per wire format (`encodeMessages`), and
 * every session of that format gets the same encoding through `frames`: the WebSocket transport
 * hands the shared buffer on as it is; SSE adds the one line each of its streams needs of its own
 * (the resume id). Nothing is encoded once per subscriber unless the format needs it.
 */

/** How one kind of transport lays hub messages and replies on its wire. */
export interface WireFormat<Shared = unknown> {
  /** A stable name, for logs and metrics (`websocket`, `sse`). */
  readonly name: string;
  /**
   * A turn's messages of one channel (JSON payloads, with their stream offsets, ascending), encoded
   * once for every session of this format.
   */
  encodeMessages(channel: string, offsets: readonly number[], payloads: readonly string[]): Shared;
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
   * positions from `subscribed` and `reset`); without it, the format's `encodeReply` is used.
   */
  replyFrames?(reply: { type: string; channel?: string; offset?: number; epoch?: string }, json: string): Buffer;
  /** Writes buffers in order, as one corked write. */
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
 * What a transport tells its session. The transport calls these from its network callbacks; none of
 * them throws.
 */
export interface TransportEvents {
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

/** What a transport's endpoint needs of the hub: its options, and a session for each connection. */
export interface SessionOpener {
  readonly options: import('../realtime/options.js').ResolvedHubOptions;
  readonly reporter: import('../realtime/report.js').Reporter;
  /** True once `hub.close()` was called: new connections are refused (503). */
  readonly isClosing: boolean;
  /**
   * Starts a session for a new, admitted connection; the transport then reports its events to it.
   * `fullProtocol`: whether the peer speaks livehub's full protocol (see docs/protocol.md).
   */
  open(transport: Transport, request: import('../realtime/policy.js').RequestInfo,
    identity: import('../realtime/auth.js').Identity | null, fullProtocol: boolean): TransportEvents & { readonly id: string };
}
