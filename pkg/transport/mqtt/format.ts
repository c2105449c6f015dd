/**
 * The MQTT wire format: a turn's messages of a channel become PUBLISH packets once, for every
 * device subscribed to it. The payload of a delivered message is its `data` as JSON text (a string
 * published from a page arrives as `"text"`, with its quotes); its type and publisher travel as MQTT 5
 * user properties (`type`, `from.user`, `from.client`, and each tag as `tag.<key>`). QoS 0 devices of
 * one protocol version share one buffer; QoS 1 devices share each message's QoS 1 packet, laid out
 * once per protocol version, and put their own packet identifiers in their copies (qos1.ts).
 *
 * Two tags are MQTT's own: `retain` ("1": published retained) and `expires` (when the message
 * expires, in ms since the epoch, from an MQTT 5 message expiry interval). A message past its expiry
 * is not delivered to devices; one before it tells MQTT 5 devices the seconds it has left.
 */
import type { HubMessage } from '../../protocol/index.js';
import type { WireFormat } from '../index.js';
import { publishPacket, publishProperties, utf8, type MqttVersion, type PublishParts } from './packets.js';
import { qos1Packets } from './qos1.js';
import { topicOf } from './topics.js';

/** A turn's messages of one channel, encoded for MQTT. */
export class MqttBatch {
  /** QoS 0 packets for MQTT 3.1.1 and 5, made on first use. */
  private qos0: [Buffer | null, Buffer | null] = [null, null];
  /** Whether the QoS 1 packets for MQTT 3.1.1 and 5 are made. */
  private qos1Made: [boolean, boolean] = [false, false];

  constructor(readonly offsets: readonly number[], readonly parts: readonly PublishParts[], private readonly metadata: ReadonlyArray<() => Buffer>) {}

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

  /** Every message, its QoS 1 packet for one protocol version made (once, the batch's adjacent in memory). */
  qos1(version: MqttVersion): readonly PublishParts[] {
    const slot = version === 5 ? 1 : 0;
    if (this.qos1Made[slot]) return this.parts;
    if (version === 5) this.withProperties();
    qos1Packets(this.parts, version);
    this.qos1Made[slot] = true;
    return this.parts;
  }

  /** Makes the MQTT 5 properties of each message (once). */
  withProperties(): void {
    this.parts.forEach((part, i) => { part.properties ??= this.metadata[i]!(); });
  }
}

/** The MQTT wire format (replies are per connection: see MqttConnection.replyFrames). */
export const mqttFormat: WireFormat<MqttBatch> = {
  name: 'mqtt',
  encodeMessages(channel, offsets, payloads, types) {
    const topic = utf8(topicOf(channel));
    const parts: PublishParts[] = [];
    const metadata: Array<() => Buffer> = [];
    const now = Date.now();
    for (let i = 0; i < payloads.length; i++) {
      const message = split(payloads[i]!, channel, types[i]!, offsets[i]!);
      const expires = message.rest.includes('"expires":') ? expiryOf(message.rest) : undefined;
      if (expires !== undefined && expires <= now) continue;
      parts.push({ topic, properties: null, payload: Buffer.from(message.data, 'utf8'), offset: offsets[i] });
      metadata.push(() => propertiesOf(types[i]!, message.rest, expires));
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

/** When a message expires (its `expires` tag), or undefined when it does not. */
function expiryOf(rest: string): number | undefined {
  try {
    const expires = Number((JSON.parse(rest) as { tags?: Record<string, string> }).tags?.expires);
    return Number.isFinite(expires) ? expires : undefined;
  } catch {
    return undefined;
  }
}

/** The MQTT 5 properties of a message: its type, publisher and tags as user properties, and its expiry. */
function propertiesOf(type: string, rest: string, expires: number | undefined): Buffer {
  const expiresIn = expires === undefined ? undefined : Math.ceil((expires - Date.now()) / 1000);
  if (rest === '{}') return publishProperties([['type', type]], expiresIn);
  let extra: Pick<HubMessage, 'tags' | 'from'>;
  try {
    extra = JSON.parse(rest) as typeof extra;
  } catch {
    return publishProperties([['type', type]], expiresIn);
  }
  return publishProperties(userProperties(type, extra), expiresIn);
}

/** The MQTT 5 user properties of a message: its type, publisher and tags (but `expires`, a property of its own). */
function userProperties(type: string, extra: Pick<HubMessage, 'tags' | 'from'>): Array<[string, string]> {
  const out: Array<[string, string]> = [['type', type]];
  if (extra.from?.user !== undefined) out.push(['from.user', String(extra.from.user)]);
  if (extra.from?.client !== undefined) out.push(['from.client', String(extra.from.client)]);
  for (const [key, value] of Object.entries(extra.tags ?? {})) if (key !== 'expires') out.push([`tag.${key}`, value]);
  return out;
}

/**
 * A channel's retained message for a new subscriber: the newest of `messages` published retained
 * (tag `retain`) as `outgoing` gives it to that subscriber, unless it cleared the retained message
 * (empty: data null), expired, or `outgoing` drops it; else null.
 */
export function retainedParts(channel: string, messages: readonly HubMessage[], version: MqttVersion,
  outgoing: (message: HubMessage) => HubMessage | null = (m) => m): PublishParts | null {
  const newest = messages.findLast((m) => m.tags?.retain === '1');
  const message = newest === undefined ? null : outgoing(newest);
  if (message === null || message.data === null) return null;
  const parts = partsOf(utf8(topicOf(channel)), message, version, Date.now());
  return parts === null ? null : { ...parts, offset: undefined, retain: true };
}

/**
 * Messages read from a channel's history, as a device gets them live: each one's parts (with its
 * offset), but those that expired.
 */
export function historyParts(channel: string, messages: readonly HubMessage[], version: MqttVersion): PublishParts[] {
  const topic = utf8(topicOf(channel));
  const now = Date.now();
  const out: PublishParts[] = [];
  for (const message of messages) {
    const parts = partsOf(topic, message, version, now);
    if (parts !== null) out.push(parts);
  }
  return out;
}

/** A message read from history as PUBLISH parts (the seconds it has left, for MQTT 5), or null once it expired. */
function partsOf(topic: Buffer, message: HubMessage, version: MqttVersion, now: number): PublishParts | null {
  const expires = message.tags?.expires === undefined ? undefined : Number(message.tags.expires);
  const expiring = expires !== undefined && Number.isFinite(expires);
  if (expiring && expires <= now) return null;
  return {
    topic, offset: message.offset,
    payload: Buffer.from(JSON.stringify(message.data ?? null), 'utf8'),
    properties: version === 5 ? publishProperties(userProperties(message.type, message), expiring ? Math.ceil((expires - now) / 1000) : undefined) : null,
  };
}
