/**
 * Reads MQTT packets off a byte stream: finds each packet's end from its fixed header (refusing one
 * longer than the limit before buffering it), then hands the whole packet to `mqtt-packet`'s parser.
 * The packets a subscribed device sends most, a PUBACK without reason code (four bytes) and a
 * PINGREQ (two), are read here without the parser. A packet it cannot read ends the connection with
 * a reason (MQTT 5's codes, for the DISCONNECT and the log), and nothing after it is read.
 */
import mqttPacket, { type Packet } from 'mqtt-packet';
import { Reason } from './packets.js';

export interface ReaderEvents {
  packet(packet: Packet): void;
  /** A PUBACK without reason code or properties (success): its packet identifier. */
  acknowledged(packetId: number): void;
  /** The packets of the bytes pushed were all handed on (what is left of a packet waits for more). */
  read(): void;
  /** The stream cannot be read on: `reason` is the MQTT 5 reason code, `message` says why. */
  refused(reason: number, message: string): void;
}

const PINGREQ: Packet = { cmd: 'pingreq' };

export class PacketReader {
  private pending: Buffer | null = null;
  private readonly parser = mqttPacket.parser();
  private stopped = false;

  constructor(private readonly maxPacketSize: number, private readonly events: ReaderEvents) {
    this.parser.on('packet', (packet: Packet) => { if (!this.stopped) events.packet(packet); });
    this.parser.on('error', (error: Error) => this.refuse(Reason.Malformed, `a malformed packet (${error.message})`));
  }

  /** Takes bytes from the stream; each whole packet in them is handed on, in order. */
  push(chunk: Buffer): void {
    if (this.stopped) return;
    const buffer = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    const end = buffer.length;
    let at = 0;
    while (!this.stopped && end - at >= 2) {
      const first = buffer[at]!;
      if (first === 0x40 && buffer[at + 1] === 0x02) {
        if (end - at < 4) break;
        this.events.acknowledged((buffer[at + 2]! << 8) | buffer[at + 3]!);
        at += 4;
        continue;
      }
      if (first === 0xc0 && buffer[at + 1] === 0x00) {
        this.events.packet(PINGREQ);
        at += 2;
        continue;
      }
      let length = 0;
      let multiplier = 1;
      let next = at + 1;
      for (;;) {
        if (next >= end) { this.pending = buffer.subarray(at); return this.events.read(); }
        if (next - at > 4) return this.refuse(Reason.Malformed, 'a malformed packet (its remaining length takes more than four bytes)');
        const byte = buffer[next++]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) break;
      }
      const total = next - at + length;
      if (total > this.maxPacketSize) {
        return this.refuse(Reason.PacketTooLarge, `a packet of ${total} bytes, over the limit of ${this.maxPacketSize} (the endpoint's maxPacketSize)`);
      }
      if (end - at < total) break;
      this.parser.parse(buffer.subarray(at, at + total));
      at += total;
    }
    if (this.stopped) return;
    if (at < end) this.pending = at === 0 ? buffer : buffer.subarray(at);
    this.events.read();
  }

  /** Stops reading: nothing more is handed on. */
  stop(): void {
    this.stopped = true;
    this.pending = null;
  }

  private refuse(reason: number, message: string): void {
    if (this.stopped) return;
    this.stop();
    this.events.refused(reason, message);
  }
}
