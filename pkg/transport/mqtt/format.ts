/**
 * The MQTT wire format: a turn's messages of a channel become PUBLISH packets once, for every
 * device subscribed to it. The payload of a delivered message is its `data` as JSON text (a string
 * published from a page arrives as `"text"`, with its quotes); its type and publisher travel as MQTT 5
 * user properties (`type`, `from.user`, `from.client`, and each tag as `tag.<key>`). QoS 0 devices of
 * one protocol version share one buffer; a QoS 1 device adds its packet identifiers to the shared parts.
 */
import type { WireFormat } from '../index.js';
import { publishPacket, publishProperties, utf8, type MqttVersion, type PublishParts } from './packets.js';
import { topicOf } from './topics.js';

/** A turn's messages of one channel, encoded for MQTT. */
export class MqttBatch {
  /** QoS 0 packets for MQTT 3.1.1 and 5, made on first use. */
  private qos0: [Buffer | null, Buffer | null] = [null, null];

  constructor(readonly offsets: readonly number[], readonly parts: readonly PublishParts[], private readonly metadata: ReadonlyArray<() => Array<[string, string]>>) {}

  /** Every message as QoS 0 PUBLISH packets, for one protocol version: shared by every such device. */
  shared(version: MqttVersion): Buffer {
    const slot = version === 5 ? 1 : 0;
    let packets = this.qos0[slot];
    if (packets === null) {
      if (version === 5) this.withProperties();
      packets = this.qos0[slot] = this.parts.length === 1
        ? publishPacket(this.parts[0]!, version, 0)
        : Buffer.concat(this.parts.map((part) => publishPacket(part, version, 0)));
    }
    return packets;
  }

  /** Makes the MQTT 5 properties of each message (once). */
  withProperties(): void {
    this.parts.forEach((part, i) => { part.properties ??= publishProperties(this.metadata[i]!()); });
  }
}

/** The MQTT wire format (replies are per connection: see MqttConnection.replyFrames). */
export const mqttFormat: WireFormat<MqttBatch> = {
  name: 'mqtt',
  encodeMessages(channel, offsets, payloads, types) {
    const topic = utf8(topicOf(channel));
    const parts: PublishParts[] = [];
    const metadata: Array<() => Array<[string, string]>> = [];
    for (let i = 0; i < payloads.length; i++) {
      const message = split(payloads[i]!, channel, types[i]!, offsets[i]!);
      parts.push({ topic, properties: null, payload: Buffer.from(message.data, 'utf8') });
      metadata.push(() => userProperties(types[i]!, message.rest));
    }
    return new MqttBatch(offsets, parts, metadata);
  },
  encodeReply: () => Buffer.alloc(0),
};

/**
 * A hub message's `data` (JSON text) and the JSON of what follows its offset (tags, from), cut out of
 * the encoding the hub gives every message (`{"channel":C,"type":T,"data":D,"offset":N…}`) without
 * parsing the data; a message in any other shape (reshaped by an `outgoing` hook) is parsed.
 */
function split(payload: string, channel: string, type: string, offset: number): { data: string; rest: string } {
  const prefix = `{"channel":"${channel}","type":"${type}","data":`;
  const marker = `,"offset":${offset}`;
  const end = payload.lastIndexOf(marker);
  const after = payload.slice(end + marker.length);
  if (payload.startsWith(prefix) && end > prefix.length && (after === '}' || after.startsWith(','))) {
    return { data: payload.slice(prefix.length, end), rest: after === '}' ? '{}' : `{${after.slice(1)}` };
  }
  const message = JSON.parse(payload) as Record<string, unknown>;
  return { data: JSON.stringify(message.data ?? null), rest: JSON.stringify({ tags: message.tags, from: message.from }) };
}

/** The MQTT 5 user properties of a message: its type, publisher and tags. */
function userProperties(type: string, rest: string): Array<[string, string]> {
  const out: Array<[string, string]> = [['type', type]];
  if (rest === '{}') return out;
  let extra: { tags?: Record<string, string>; from?: { user?: string; client?: string } };
  try {
    extra = JSON.parse(rest) as typeof extra;
  } catch {
    return out;
  }
  if (extra.from?.user !== undefined) out.push(['from.user', String(extra.from.user)]);
  if (extra.from?.client !== undefined) out.push(['from.client', String(extra.from.client)]);
  for (const [key, value] of Object.entries(extra.tags ?? {})) out.push([`tag.${key}`, value]);
  return out;
}
