/**
 * Reads MQTT packets off a byte stream: finds each packet's end from its fixed header (refusing one
 * longer than the limit before buffering it), then hands the whole packet to `mqtt-packet`'s parser.
 * The packets devices send most are read here without the parser: a PUBACK without reason code
 * (four bytes), a PINGREQ (two), and, once the connection's protocol version is known, a QoS 0 or 1
 * PUBLISH without MQTT 5 properties. A packet it cannot read ends the connection with a reason
 * (MQTT 5's codes, for the DISCONNECT and the log), and nothing after it is read.
 */
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { Reason, type MqttVersion } from './packets.js';

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
  /** The connection's protocol version, once its CONNECT is accepted (until then every PUBLISH goes to the parser). */
  version: MqttVersion | null = null;

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
      const publish = (first & 0xf0) === 0x30 && this.version !== null ? publishIn(buffer, first, next, at + total, this.version) : null;
      if (publish !== null) this.events.packet(publish);
      else this.parser.parse(buffer.subarray(at, at + total));
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

/**
 * A QoS 0 or 1 PUBLISH whose body is `buffer[start, end)`, read as `mqtt-packet` reads it (the topic
 * as UTF-8, the payload as the bytes that follow); null for one to leave to the parser: QoS 2 or the
 * malformed QoS 3, MQTT 5 properties, or a topic or packet identifier that does not fit.
 */
function publishIn(buffer: Buffer, first: number, start: number, end: number, version: MqttVersion): IPublishPacket | null {
  const qos = (first >> 1) & 3;
  if (qos > 1 || end - start < 2) return null;
  let at = start + 2 + ((buffer[start]! << 8) | buffer[start + 1]!);
  if (at > end) return null;
  const topic = buffer.toString('utf8', start + 2, at);
  let messageId: number | undefined;
  if (qos === 1) {
    if (at + 2 > end) return null;
    messageId = (buffer[at]! << 8) | buffer[at + 1]!;
    at += 2;
  }
  if (version === 5) {
    if (at >= end || buffer[at] !== 0) return null;
    at++;
  }
  return {
    cmd: 'publish', retain: (first & 0x01) !== 0, qos: qos as 0 | 1, dup: (first & 0x08) !== 0, length: end - start, topic,
    payload: buffer.subarray(at, end), ...(messageId === undefined ? {} : { messageId }),
  };
}
