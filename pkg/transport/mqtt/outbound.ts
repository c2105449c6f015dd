/**
 * QoS 1 deliveries to one device: each gets the next free packet identifier, at most the device's
 * receive maximum are unacknowledged at a time, and more wait (held) until a PUBACK makes room. The
 * unacknowledged and waiting ones live in the device's session state, so a resumed session sends the
 * unacknowledged ones again with DUP set, then those that waited.
 */
import { publishPacket, type MqttVersion, type PublishParts } from './packets.js';
import type { MqttSessionState } from './sessions.js';

export class Outbound {
  constructor(
    private readonly state: MqttSessionState,
    private readonly version: MqttVersion,
    readonly receiveMaximum: number,
    /** Writes to the device (nothing once the connection is closing). */
    private readonly write: (bytes: Buffer) => void,
  ) {}

  /** How many deliveries wait beyond the receive maximum. */
  get waiting(): number {
    return this.state.held.length;
  }

  /** The packets to send now for these messages, in order; the rest wait for room. */
  offer(messages: readonly PublishParts[]): Buffer[] {
    const out: Buffer[] = [];
    for (const parts of messages) {
      const packet = this.state.held.length === 0 ? this.deliver(parts) : null;
      if (packet) out.push(packet);
      else this.state.held.push(parts);
    }
    return out;
  }

  /** The device acknowledged a delivery: waiting ones take its place. */
  acknowledged(packetId: number): void {
    if (this.state.inflight.delete(packetId)) this.pump();
  }

  /** A resumed session: the unacknowledged deliveries again, with DUP set, then what waited and fits. */
  resend(): void {
    const again = [...this.state.inflight.values()].map((packet) => {
      const dup = Buffer.from(packet);
      dup[0]! |= 0x08;
      return dup;
    });
    if (again.length > 0) this.write(Buffer.concat(again));
    this.pump();
  }

  /** Sends waiting deliveries while the receive maximum leaves room. */
  private pump(): void {
    const { held } = this.state;
    const sent: Buffer[] = [];
    while (held.length > 0) {
      const packet = this.deliver(held[0]!);
      if (!packet) break;
      held.shift();
      sent.push(packet);
    }
    if (sent.length > 0) this.write(Buffer.concat(sent));
  }

  /** A QoS 1 PUBLISH with the next free packet identifier, or null when the receive maximum is reached. */
  private deliver(parts: PublishParts): Buffer | null {
    const { state } = this;
    if (state.inflight.size >= this.receiveMaximum) return null;
    do state.nextPacketId = state.nextPacketId === 0xffff ? 1 : state.nextPacketId + 1;
    while (state.inflight.has(state.nextPacketId));
    const packet = publishPacket(parts, this.version, state.nextPacketId);
    state.inflight.set(state.nextPacketId, packet);
    return packet;
  }
}
