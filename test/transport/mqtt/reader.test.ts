import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { PacketReader } from '../../../pkg/transport/mqtt/reader.js';

/** A reader and what it handed on, in order. */
function reader(maxPacketSize = 1024) {
  const seen: Array<string | Packet> = [];
  const events = {
    packet: (packet: Packet) => seen.push(packet),
    acknowledged: (packetId: number) => seen.push(`ack ${packetId}`),
    read: () => seen.push('read'),
    refused: (reason: number, message: string) => seen.push(`refused ${reason} ${message}`),
  };
  return { reader: new PacketReader(maxPacketSize, events), seen };
}

const connect = mqttPacket.generate({ cmd: 'connect', protocolVersion: 5, clientId: 'reader', clean: true, keepalive: 0 });

describe('The MQTT packet reader', () => {
  it('reads a PUBACK without reason code and a PINGREQ whole, however the bytes are split across reads', () => {
    const bytes = Buffer.from([0x40, 0x02, 0x12, 0x34, 0xc0, 0x00, 0x40, 0x02, 0x00, 0x07]);
    for (let cut = 1; cut < bytes.length; cut++) {
      for (let second = cut + 1; second <= bytes.length; second++) {
        const { reader: r, seen } = reader();
        r.push(bytes.subarray(0, cut));
        r.push(bytes.subarray(cut, second));
        if (second < bytes.length) r.push(bytes.subarray(second));
        expect(seen.filter((s) => s !== 'read'), `cut at ${cut} and ${second}`).toEqual(['ack 4660', { cmd: 'pingreq' }, 'ack 7']);
        expect(seen.at(-1)).toBe('read');
      }
    }
  });

  it('says after each read that its packets were handed on, once', () => {
    const { reader: r, seen } = reader();
    r.push(Buffer.from([0x40, 0x02, 0x00, 0x01, 0x40, 0x02, 0x00, 0x02, 0x40]));
    expect(seen).toEqual(['ack 1', 'ack 2', 'read']);
    r.push(Buffer.from([0x02, 0x00]));
    expect(seen).toEqual(['ack 1', 'ack 2', 'read', 'read']);
    r.push(Buffer.from([0x03]));
    expect(seen).toEqual(['ack 1', 'ack 2', 'read', 'read', 'ack 3', 'read']);
  });

  it('hands a PUBACK with a reason code, and every other packet, to the parser, in order with the fast ones', () => {
    const { reader: r, seen } = reader();
    const withReason = mqttPacket.generate({ cmd: 'puback', messageId: 9, reasonCode: 0x10 }, { protocolVersion: 5 });
    r.push(Buffer.concat([connect, Buffer.from([0x40, 0x02, 0x00, 0x08]), withReason, Buffer.from([0xc0, 0x00])]));
    expect(seen.map((s) => (typeof s === 'string' ? s : s.cmd))).toEqual(['connect', 'ack 8', 'puback', 'pingreq', 'read']);
    expect(seen[2]).toMatchObject({ cmd: 'puback', messageId: 9, reasonCode: 0x10 });
  });

  it('refuses a PUBACK or PINGREQ with flags set as malformed, through the parser', () => {
    const { reader: r, seen } = reader();
    r.push(Buffer.from([0x42, 0x02, 0x00, 0x01]));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^refused 129 a malformed packet/);
  });

  it('refuses a packet over the size limit before it is whole, and reads nothing after it', () => {
    const { reader: r, seen } = reader(64);
    r.push(Buffer.from([0x30, 0xc8, 0x01]));
    r.push(Buffer.from([0x40, 0x02, 0x00, 0x01]));
    expect(seen).toEqual(['refused 149 a packet of 203 bytes, over the limit of 64 (the endpoint\'s maxPacketSize)']);
  });

  it('reads a QoS 0 or 1 PUBLISH without properties as the parser does, once the protocol version is known', () => {
    // [version, packet, read without the parser]
    const cases: Array<[4 | 5, Record<string, unknown>, boolean]> = [
      [4, { topic: 'meters/1', payload: '{"kwh":3}', qos: 0 }, true],
      [4, { topic: 'meters/ø', payload: '', qos: 1, messageId: 513, dup: true, retain: true }, true],
      [5, { topic: 'meters/1', payload: 'x'.repeat(300), qos: 1, messageId: 7 }, true],
      [5, { topic: 'meters/1', payload: 'with properties', qos: 1, messageId: 8, properties: { userProperties: { type: 'reading' } } }, false],
      [5, { topic: 'meters/1', payload: 'at QoS 2', qos: 2, messageId: 9 }, false],
    ];
    for (const [version, fields, fast] of cases) {
      const bytes = mqttPacket.generate({ cmd: 'publish', dup: false, retain: false, ...fields } as Packet, { protocolVersion: version });
      const expected: Packet[] = [];
      const parser = mqttPacket.parser({ protocolVersion: version });
      parser.on('packet', (packet) => expected.push(packet));
      parser.parse(bytes);
      // The reader's own parser learns the version from the CONNECT, as on a connection.
      const { reader: r, seen } = reader();
      r.push(mqttPacket.generate({ cmd: 'connect', protocolVersion: version, clientId: 'reader', clean: true, keepalive: 0 }));
      r.version = version;
      r.push(bytes);
      expect(seen.slice(2), JSON.stringify(fields)).toEqual([...expected, 'read']);
      // The parser's packets are instances of its own class; the reader's are plain objects.
      expect(Object.getPrototypeOf(seen[2]) === Object.prototype, JSON.stringify(fields)).toBe(fast);
    }
  });

  it('leaves a PUBLISH to the parser until the protocol version is known', () => {
    const { reader: r, seen } = reader();
    r.push(Buffer.concat([connect, mqttPacket.generate({ cmd: 'publish', topic: 't', payload: 'p', qos: 0, dup: false, retain: false }, { protocolVersion: 5 })]));
    expect(seen).toMatchObject([{ cmd: 'connect' }, { cmd: 'publish', topic: 't' }, 'read']);
  });

  it('refuses a PUBLISH with both QoS bits set as malformed', () => {
    const { reader: r, seen } = reader();
    r.version = 4;
    r.push(Buffer.from([0x36, 0x05, 0x00, 0x01, 0x74, 0x00, 0x01]));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^refused 129 a malformed packet/);
  });
});
