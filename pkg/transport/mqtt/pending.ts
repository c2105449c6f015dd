import type { RetainedWanted } from './metadata.js';

/** A command an MQTT connection sent to the hub, waiting for its answer. */
export type Pending =
  | { kind: 'subscribe'; ack: Acknowledgement; index: number; channel: string; qos: 0 | 1; retainHandling: number }
  | { kind: 'unsubscribe'; ack: Acknowledgement; index: number; channel: string }
  | { kind: 'publish'; packetId: number; qos: number; topic: string }
  | { kind: 'resume'; channel: string; resumed: boolean }
  /** A topic filter with wildcards: a livehub pattern subscription (or, with `ack` null, one a resumed session makes again). */
  | { kind: 'pattern'; ack: Acknowledgement | null; index: number; pattern: string; qos: 0 | 1; unsubscribe: boolean };

/** A SUBACK or UNSUBACK being put together: one code per topic. */
export interface Acknowledgement {
  cmd: 'suback' | 'unsuback';
  packetId: number;
  codes: number[];
  waiting: number;
  /** Subscriptions whose retained message is sent once the SUBACK is. */
  retained?: RetainedWanted[];
}
