/** Running totals a hub keeps for monitoring (`hub.info()`). */
export interface HubCounters {
  /** Transport writes (a corked batch of frames counts once). */
  writes: number;
  /** Frames (messages and replies) handed to transports. */
  frames: number;
  /** Bytes handed to transports. */
  bytes: number;
  /** Sessions closed as slow consumers (4001). */
  evictions: number;
}
