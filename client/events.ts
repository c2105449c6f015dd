import type { HubMessage, PresenceMember, ServerReply } from '../pkg/protocol/index.js';
import type { GapEvent, RecoveredEvent, SubscribeErrorEvent } from './errors.js';
import type { DirectMessage } from './request.js';
import type { TransportName } from './transport-connection.js';

export type LiveStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export type MessageHandler<T = unknown> = (data: T, message: HubMessage<T>) => void;

export interface LiveClientEvents {
  status: (status: LiveStatus) => void;
  /**
   * The open connection became stale (a heartbeat the server promised is late: the client probes
   * the link, and reconnects if the probe goes unanswered) or live again; also `client.stale`.
   */
  stale: (stale: boolean) => void;
  /** The member list of a presence channel (after subscribing, or asked for). */
  presence: (event: { channel: string; members: PresenceMember[] }) => void;
  recovered: (event: RecoveredEvent) => void;
  gap: (event: GapEvent) => void;
  /** A subscribe was refused (and is retried with backoff when the error can pass). */
  subscribeError: (event: SubscribeErrorEvent) => void;
  open: () => void;
  close: (event: { code: number; reason: string }) => void;
  /** Every error: a failed or timed-out connect, an error frame, a refused subscribe, a terminal close. */
  error: (error: Error) => void;
  message: (message: HubMessage) => void;
  /** A message the server sent to this connection alone (`{type, data}`, no channel); also `client.direct.on(type, handler)`. */
  direct: (message: DirectMessage) => void;
  /** The transport of the connection or attempt changed (`'websocket'` or `'sse'`); also `client.transport`. */
  transport: (transport: TransportName) => void;
  reply: (reply: ServerReply) => void;
  /** The outbox's size changed (`client.queued`): publishes, requests and messages waiting for the connection or an ack. */
  outbox: (event: { size: number }) => void;
  /** Publishes and requests that waited while disconnected were sent on (re)connect. */
  'offline.queue.flushed': (event: { count: number }) => void;
}
