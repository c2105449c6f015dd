/** The client's grouped options: reconnect, heartbeat and outbox, each field with its default. */

export interface ReconnectOptions {
  /**
   * Base of the exponential backoff, in ms: attempt n waits a random time in [0, min(maxDelay, delay * 2^n)).
   * A refused subscribe is retried on the same backoff.
   * @default 500
   */
  delay?: number;
  /**
   * Cap of the backoff, in ms.
   * @default 30000
   */
  maxDelay?: number;
  /**
   * Reconnect attempts in a row before giving up (status `closed`, error `reconnect_failed`).
   * @default Infinity
   */
  maxAttempts?: number;
  /**
   * After the server closes with 1012 (service restart: `hub.drain()`), attempts that fail within
   * this many ms of that close are expected (the node is restarting, or the balancer has not routed
   * around it yet): the backoff's ceiling stops growing at 4 × `delay` (2 s by default), so the
   * client is back within about that long of the node (or another one) taking connections again,
   * and a node's clients still spread their attempts over that time. Failures after the window grow
   * the backoff on as usual. 0: a 1012 is treated like any close.
   * @default 10000
   */
  restartWindow?: number;
}

export interface HeartbeatOptions {
  /**
   * While open, a `ping` is sent after this many ms without traffic.
   * @default the heartbeat period the server announced plus `allowance` (4000 + 1000 with a livehub
   * hub's defaults); 25000 from a server that announces none
   */
  interval?: number;
  /**
   * After a `ping`, the connection is dropped and reopened if nothing arrives within this many ms.
   * @default 3000 when the server announced a heartbeat period; 10000 otherwise
   */
  timeout?: number;
  /**
   * How much later than the server's announced heartbeat period traffic may come: past it the
   * connection is stale (`client.stale`, the `stale` event, `stale` in `useConnectionState()`), and
   * probed with a ping.
   * @default 1000
   */
  allowance?: number;
}

export interface OutboxOptions {
  /**
   * Publishes kept until acked (sent or waiting for a connection), and requests waiting to be sent
   * or answered; beyond it, `overflow` applies.
   * @default 1000
   */
  maxSize?: number;
  /**
   * When the outbox is full: `'drop-oldest'` rejects the oldest publish, `'reject'` the new one.
   * @default 'drop-oldest'
   */
  overflow?: 'drop-oldest' | 'reject';
  /**
   * Sends of one publish (one every `ackTimeout` ms without an ack, always with the same id, so never
   * published twice) before it is rejected with `timeout`. An error answer (`forbidden`,
   * `unavailable`, `outcome_unknown`…) rejects it at once with that code.
   * @default 5
   */
  maxAttempts?: number;
  /**
   * Where to keep the outbox across page loads, e.g. `localStorage`: unacked publishes, and requests
   * and messages queued while disconnected (`queue: true`) and not sent yet. Kept entries are sent,
   * in order and each request once, on the next connect of a client with the same `storageKey` (at
   * most `maxSize` of them); a kept request's reply then comes as the client's `reply` event.
   * @default none (memory only)
   */
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
  /**
   * The storage key the outbox is kept under.
   * @default `livehub:outbox:<url>`
   */
  storageKey?: string;
}
