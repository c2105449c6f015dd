import type { StreamPosition } from '../pkg/protocol/index.js';

/** The transports the client speaks: one WebSocket, or a Server-Sent Events stream plus POSTs. */
export type TransportName = 'websocket' | 'sse';

/** What the client chooses: one transport, or `auto` (WebSocket, falling back to SSE). */
export type TransportOption = TransportName | 'auto';

/**
 * What a connection tells the client. After `close()` is called on the connection, none of these
 * is called again.
 */
export interface ConnectionHandlers {
  /**
   * The connection is ready for commands. `resumed`: channels the server has already subscribed
   * again by itself, each from the position given (an EventSource that reconnected on its own sent
   * its last event id); the client must not subscribe them again. Empty on a fresh connection.
   */
  open(resumed: ReadonlyMap<string, StreamPosition>): void;
  /** One frame's JSON text. */
  message(text: string): void;
  /** The connection ended; it cannot be reused (the client decides whether to open another). */
  closed(code: number, reason: string): void;
  /**
   * The connection dropped but is coming back by itself (an EventSource's own reconnect): the client
   * treats it as a new attempt, and `open` comes again with what the server resumed.
   */
  interrupted(code: number, reason: string): void;
  /** A command could not be delivered (a failed companion POST). */
  failed(error: Error): void;
}

/** One connection to the hub, over either transport. */
export interface Connection {
  readonly transport: TransportName;
  /** Whether the server answers every command (`subscribed`, channel errors): true on livehub's full protocol. */
  readonly confirms: boolean;
  /** The protocol spoken: livehub's, or the plain one of a hub that selected no subprotocol (WebSocket only). */
  readonly dialect: 'livehub' | 'plain';
  /** Whether commands can be sent now. */
  readonly isOpen: boolean;
  /** Sends one command (JSON text); in order. Dropped when not open (the client sends again on open). */
  send(text: string): void;
  /**
   * Closes and detaches: no handler is called afterwards. `code` is sent when the transport can
   * (a WebSocket close frame).
   */
  close(code?: number, reason?: string): void;
}
