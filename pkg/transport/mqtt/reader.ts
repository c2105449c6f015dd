/**
 * Reads MQTT packets off a byte stream: finds each packet's end from its fixed header (refusing one
 * longer than the limit before buffering it), then hands the whole packet to `mqtt-packet`'s parser.
 * A packet it cannot read ends the connection with a reason (MQTT 5's codes, for the DISCONNECT
 * and the log), and nothing after it is read.
 */
import mqttPacket, { type Packet } from 'mqtt-packet';
import { Reason } from './packets.js';

export interface ReaderEvents {
  packet(packet: Packet): void;
  /** The stream cannot be read on: `reason` is the MQTT 5 reason code, `message` says why. */
  refused(reason: number, message: string): void;
}

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
    let buffer = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    while (!this.stopped && buffer.length >= 2) {
      let length = 0;
      let multiplier = 1;
      let at = 1;
      for (;;) {
        if (at >= buffer.length) { this.pending = buffer; return; }
        if (at > 4) return this.refuse(Reason.Malformed, 'a malformed packet (its remaining length takes more than four bytes)');
        const byte = buffer[at++]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) break;
      }
      const total = at + length;
      if (total > this.maxPacketSize) {
        return this.refuse(Reason.PacketTooLarge, `a packet of ${total} bytes, over the limit of ${this.maxPacketSize} (the endpoint's maxPacketSize)`);
      }
      if (buffer.length < total) { this.pending = buffer; return; }
      this.parser.parse(buffer.subarray(0, total));
      buffer = buffer.subarray(total);
    }
    if (buffer.length > 0 && !this.stopped) this.pending = buffer;
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
