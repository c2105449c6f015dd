/**
 * QoS 1 deliveries to one device: each gets the next free packet identifier, at most the device's
 * receive maximum are unacknowledged at a time, and more wait (held) until a PUBACK makes room. The
 * unacknowledged and waiting ones live in the device's session state, so a resumed session sends the
 * unacknowledged ones again with DUP set, then those that waited.
 *
 * Deliveries share each message's QoS 1 packet (qos1.ts): what goes out at once is one buffer. The
 * PUBACKs of one read make room together: the deliveries that waited for it go out in one write
 * once the read's packets are all handled (`flush`).
 */
import type { MqttVersion, PublishParts } from './packets.js';
import { layOut, withPacketId } from './qos1.js';
import type { MqttSessionState } from './sessions.js';

const EMPTY = Buffer.alloc(0);

export class Outbound {
  /** Whether PUBACKs made room since the last flush. */
  private freed = false;

  constructor(
    private readonly state: MqttSessionState,
    private readonly version: MqttVersion,
    readonly receiveMaximum: number,
    /** Sends deliveries made outside the hub's fan-out (after PUBACKs, on resume), in order. */
    private readonly send: (bytes: Buffer) => void,
  ) {}

  /** How many deliveries wait beyond the receive maximum. */
  get waiting(): number {
    return this.state.held.length;
  }

  /**
   * How many more deliveries it takes before more than `cap` wait: those the receive maximum lets
   * out now (when none wait), and up to `cap` waiting.
   */
  room(cap: number): number {
    const { held, inflight } = this.state;
    return (held.length === 0 ? Math.max(0, this.receiveMaximum - inflight.size) : 0) + Math.max(0, cap - held.length);
  }

  /** The packets to send now for these messages, in order, in one buffer; the rest wait for room. */
  offer(messages: readonly PublishParts[]): Buffer {
    const { held, inflight } = this.state;
    const now = held.length === 0 ? Math.max(0, Math.min(messages.length, this.receiveMaximum - inflight.size)) : 0;
    for (let i = now; i < messages.length; i++) held.push(messages[i]!);
    return now === 0 ? EMPTY : layOut(messages, now, this.version, this.nextId, this.sent);
  }

  /** The device acknowledged a delivery: waiting ones take its place at the next flush. */
  acknowledged(packetId: number): void {
    if (this.state.inflight.delete(packetId)) this.freed = true;
  }

  /** Sends the deliveries that waited for the room the PUBACKs since the last flush made. */
  flush(): void {
    if (!this.freed) return;
    this.freed = false;
    this.pump();
  }

  /** A resumed session: the unacknowledged deliveries again, with DUP set, then what waited and fits. */
  resend(): void {
    const again = [...this.state.inflight].map(([packetId, packet]) => withPacketId(packet, packetId, true));
    if (again.length > 0) this.send(Buffer.concat(again));
    this.pump();
  }

  /** Sends waiting deliveries while the receive maximum leaves room. */
  private pump(): void {
    const { held, inflight } = this.state;
    const count = Math.min(held.length, this.receiveMaximum - inflight.size);
    if (count <= 0) return;
    const bytes = layOut(held, count, this.version, this.nextId, this.sent);
    held.splice(0, count);
    this.send(bytes);
  }

  /** The next packet identifier not in flight (there is one: at most 65,535 are). */
  private readonly nextId = (): number => {
    const { state } = this;
    let id = state.nextPacketId;
    do id = id === 0xffff ? 1 : id + 1;
    while (state.inflight.has(id));
    return (state.nextPacketId = id);
  };

  /** A delivery laid out: in flight until its PUBACK, kept as the shared packet its identifier goes into. */
  private readonly sent = (packetId: number, packet: Buffer): void => {
    this.state.inflight.set(packetId, packet);
  };
}
