/**
 * QoS 1 PUBLISH packets shared by every device that gets a message. A message's QoS 1 packet is laid
 * out once per protocol version with its packet identifier left zero (`qos1Packet`); each device's
 * deliveries are those bytes copied into one buffer, runs of adjacent packets in one copy, with only
 * the two bytes of each packet identifier written per device (`layOut`). A device's unacknowledged
 * deliveries keep the shared packet (its identifier is the key they are kept under), so a delivery
 * costs no buffer of its own until it is sent again (`withPacketId`, with DUP set).
 */
import { publishPacket, type MqttVersion, type PublishParts } from './packets.js';

/**
 * A message's QoS 1 PUBLISH for one protocol version, its packet identifier zero: made on first use
 * and kept with the message's parts. MQTT 5 needs the parts' properties made first.
 */
export function qos1Packet(parts: PublishParts, version: MqttVersion): Buffer {
  const slot = version === 5 ? 1 : 0;
  const made = (parts.qos1 ??= [null, null]);
  return made[slot] ?? (made[slot] = publishPacket(parts, version, 1));
}

/**
 * Makes the QoS 1 packets of several messages at once, adjacent in one buffer, so that a device
 * getting them in order gets them in one copy. Messages that have theirs keep it.
 */
export function qos1Packets(messages: readonly PublishParts[], version: MqttVersion): void {
  const slot = version === 5 ? 1 : 0;
  const missing = messages.filter((parts) => parts.qos1?.[slot] == null);
  if (missing.length === 0) return;
  const packets = missing.map((parts) => publishPacket(parts, version, 1));
  const all = packets.length === 1 ? packets[0]! : Buffer.concat(packets);
  let at = 0;
  missing.forEach((parts, i) => {
    const length = packets[i]!.length;
    (parts.qos1 ??= [null, null])[slot] = all.subarray(at, at + length);
    at += length;
  });
}

/** Where a PUBLISH packet's identifier is: after its fixed header and its topic. */
export function packetIdAt(packet: Uint8Array): number {
  let at = 1;
  while ((packet[at++]! & 0x80) !== 0);
  return at + 2 + ((packet[at]! << 8) | packet[at + 1]!);
}

/** A copy of a QoS 1 PUBLISH with its packet identifier, and DUP set when `dup`. */
export function withPacketId(packet: Buffer, packetId: number, dup: boolean): Buffer {
  const copy = Buffer.from(packet);
  if (dup) copy[0]! |= 0x08;
  const at = packetIdAt(copy);
  copy[at] = packetId >> 8;
  copy[at + 1] = packetId & 0xff;
  return copy;
}

/**
 * One device's deliveries of `messages[0, count)`, in one buffer: each message's shared QoS 1
 * packet with the identifier `nextId()` gives it, handed to `sent` (identifier, shared packet).
 */
export function layOut(messages: readonly PublishParts[], count: number, version: MqttVersion,
  nextId: () => number, sent: (packetId: number, packet: Buffer) => void): Buffer {
  const slot = version === 5 ? 1 : 0;
  let total = 0;
  for (let i = 0; i < count; i++) total += qos1Packet(messages[i]!, version).length;
  const out = Buffer.allocUnsafe(total);
  // The packets, runs of them adjacent in memory (a batch's, made by qos1Packets) in one copy.
  let run: Buffer | null = null;
  let runEnd = 0;
  let runAt = 0;
  let at = 0;
  for (let i = 0; i < count; i++) {
    const packet = messages[i]!.qos1![slot]!;
    if (run === null || packet.buffer !== run.buffer || packet.byteOffset !== runEnd) {
      if (run !== null) out.set(new Uint8Array(run.buffer, run.byteOffset, runEnd - run.byteOffset), runAt);
      run = packet;
      runEnd = packet.byteOffset;
      runAt = at;
    }
    runEnd += packet.length;
    at += packet.length;
  }
  if (run !== null) out.set(new Uint8Array(run.buffer, run.byteOffset, runEnd - run.byteOffset), runAt);
  // Then each one's packet identifier.
  at = 0;
  for (let i = 0; i < count; i++) {
    const parts = messages[i]!;
    const packet = parts.qos1![slot]!;
    const idAt = at + packet.length - parts.payload.length - (slot === 1 ? parts.properties!.length : 0) - 2;
    const id = nextId();
    out[idAt] = id >> 8;
    out[idAt + 1] = id & 0xff;
    sent(id, packet);
    at += packet.length;
  }
  return out;
}
