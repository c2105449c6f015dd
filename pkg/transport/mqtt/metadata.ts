/**
 * What a device's messages carry besides their topic, both ways: a PUBLISH's payload as the message's
 * data, its MQTT 5 user properties, retain flag and message expiry as the message's type and tags;
 * the retained message a new subscriber gets, read from the channel's history; and the last will
 * published on a device's behalf when it goes away without DISCONNECT.
 */
import type { IPublishPacket } from 'mqtt-packet';
import type { HubMessage, StreamPosition } from '../../protocol/index.js';
import { isValidTags } from '../../protocol/index.js';
import type { PublishAs, Reporter } from '../index.js';
import { retainedParts } from './format.js';
import type { Outbound } from './outbound.js';
import { publishPacket, type MqttVersion, type PublishParts } from './packets.js';
import { channelOf, isReservedTopic } from './topics.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A device's last will: published on its behalf when its connection ends without DISCONNECT. */
export interface Will {
  channel: string;
  topic: string;
  type: string;
  dataJson: string;
  as: PublishAs;
  /** Its MQTT 5 message expiry interval, in seconds from when it is published. */
  expiry?: number;
  /** Its MQTT 5 will delay interval: seconds to wait, in case the device comes back to its session. */
  delay?: number;
}

/**
 * A device's PUBLISH as a livehub publish command (its JSON without the closing brace), or why it is
 * refused: a topic that names no channel, bad MQTT 5 properties, a payload that is not UTF-8.
 */
export function publishCommand(packet: IPublishPacket, defaultType: string): { command: string } | { code: string; message: string } {
  const { topic } = packet;
  const channel = isReservedTopic(topic) ? null : channelOf(topic);
  if (channel === null) return { code: 'invalid_channel', message: `topic ${JSON.stringify(topic)} names no livehub channel (docs/mqtt.md: topics and channels)` };
  const metadata = messageMetadata(packet);
  if (typeof metadata === 'string') return { code: 'bad_request', message: metadata };
  let data: string;
  try {
    data = payloadJson(packet.payload);
  } catch {
    return { code: 'bad_data', message: 'the payload is not UTF-8 text (livehub carries JSON or text payloads)' };
  }
  const type = metadata.type ?? defaultType;
  const tags = metadata.tags === null ? '' : `,"tags":${JSON.stringify(metadata.tags)}`;
  return { command: `{"type":"publish","channel":${JSON.stringify(channel)},"event":${JSON.stringify(type)},"data":${data}${tags}` };
}

/**
 * The channel's retained message as of a subscription (offset `upTo`): the newest message tagged
 * `retain` in its history. When part of the history expired, a shorter tail is read.
 */
export async function readRetained(history: (channel: string, options: { limit: number }) => Promise<{ position: StreamPosition; messages: HubMessage[]; complete: boolean }>,
  channel: string, upTo: number | undefined, version: MqttVersion, outgoing: (message: HubMessage) => HubMessage | null = (m) => m): Promise<PublishParts | null> {
  for (let limit = 1 << 20; limit > 0; limit >>= 1) {
    const { position, messages, complete } = await history(channel, { limit });
    if (complete) return retainedParts(channel, upTo === undefined ? messages : messages.filter((m) => (m.offset ?? 0) <= upTo), version, outgoing);
    limit = Math.min(limit, position.offset);
  }
  return null;
}

/** A subscription whose retained message follows the SUBACK: its QoS and the position it was subscribed at. */
export interface RetainedWanted {
  channel: string;
  qos: 0 | 1;
  upTo: number | undefined;
}

/** Sends each subscription's retained message (the newest retained one in its channel's history), in order. */
export async function sendRetained(wanted: readonly RetainedWanted[], to: {
  history: Parameters<typeof readRetained>[0]; outgoing: (message: HubMessage) => HubMessage | null; version: MqttVersion; outbound: Outbound;
  write(bytes: Buffer): void; failed(channel: string, error: unknown): void;
}): Promise<void> {
  for (const { channel, qos, upTo } of wanted) {
    let parts: PublishParts | null;
    try {
      parts = await readRetained(to.history, channel, upTo, to.version, to.outgoing);
    } catch (error) {
      to.failed(channel, error);
      continue;
    }
    if (parts === null) continue;
    const packet = qos === 0 ? publishPacket(parts, to.version, 0) : to.outbound.offer([parts]);
    if (packet.length > 0) to.write(packet);
  }
}

/**
 * Wills waiting out their MQTT 5 will delay interval (at most until the session ends): a device that
 * resumes its session within it has its will dropped; one that starts a new session has it published
 * at once.
 */
export class DelayedWills {
  private readonly waiting = new Map<string, { timer: NodeJS.Timeout; publish: () => void }>();

  /** A device went away without DISCONNECT: its will is published after `delay` seconds, or now. */
  left(clientId: string, will: Will, delay: number, context: Parameters<typeof publishWill>[2]): void {
    this.returned(clientId, false);
    const publish = () => {
      this.waiting.delete(clientId);
      publishWill(will, clientId, context);
    };
    if (delay <= 0) return publish();
    this.waiting.set(clientId, { timer: setTimeout(publish, delay * 1000).unref(), publish });
  }

  /** The device connected again: a will still waiting is dropped when it resumed its session, published otherwise. */
  returned(clientId: string, resumed: boolean): boolean {
    const waiting = this.waiting.get(clientId);
    if (waiting === undefined) return false;
    clearTimeout(waiting.timer);
    this.waiting.delete(clientId);
    if (!resumed) waiting.publish();
    return resumed;
  }

  /** The endpoint stops (the hub closes): waiting wills are not published. */
  clear(): void {
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
  }
}

/** Publishes a device's last will on its behalf (the channel policy decides), and logs what came of it. */
export function publishWill(will: Will, clientId: string, context: { reporter: Reporter; closing(): boolean; publish(channel: string, type: string, dataJson: string, as: PublishAs): Promise<StreamPosition> }): void {
  const as = will.expiry === undefined ? will.as : { ...will.as, tags: { ...will.as.tags, expires: String(Date.now() + will.expiry * 1000) } };
  const who = `livehub: MQTT client ${JSON.stringify(clientId)} went away without DISCONNECT`;
  if (context.closing()) {
    // The hub closed the connection as it shut down: the device did not fail, and nothing can be published now.
    context.reporter.report('info', 'mqtt_will_skipped', `livehub: MQTT client ${JSON.stringify(clientId)} was disconnected as the hub closed; its last will on ${JSON.stringify(will.topic)} was not published`);
    return;
  }
  context.publish(will.channel, will.type, will.dataJson, as).then(
    () => context.reporter.report('info', 'mqtt_will_published', `${who}; its last will was published on ${JSON.stringify(will.topic)}`),
    (error: unknown) => context.reporter.report('warn', 'mqtt_will_failed', `${who}, but its last will on ${JSON.stringify(will.topic)} could not be published: ${(error as { code?: string }).code ?? 'error'} (${error instanceof Error ? error.message : String(error)})`),
  );
}

/**
 * The type and tags of a device's PUBLISH (or will): the MQTT 5 user property `type` names its type;
 * every other user property is a tag (a `tag.` before its name taken off, so a device can publish
 * back what it received); the retain flag is tag `retain` ("1"), a message expiry interval is tag
 * `expires` (ms since the epoch). A string says why they cannot be tags.
 */
export function messageMetadata(packet: { retain?: boolean; properties?: { userProperties?: Record<string, string | string[]>; messageExpiryInterval?: number } }): { type: string | undefined; tags: Record<string, string> | null } | string {
  let type: string | undefined;
  const tags: Record<string, string> = {};
  for (const [key, value] of Object.entries(packet.properties?.userProperties ?? {})) {
    if (typeof value !== 'string') return `user property ${JSON.stringify(key)} is given more than once (each is a tag of one value)`;
    if (key === 'type') type = value;
    else tags[key.startsWith('tag.') ? key.slice(4) : key] = value;
  }
  delete tags.retain;
  delete tags.expires;
  if (packet.retain) tags.retain = '1';
  const expiry = packet.properties?.messageExpiryInterval;
  if (typeof expiry === 'number' && expiry > 0) tags.expires = String(Date.now() + expiry * 1000);
  const some = Object.keys(tags).length > 0;
  if (some && !isValidTags(tags)) return 'user properties are the message\'s tags: at most 16 (with the retain flag and message expiry), names of A-Z a-z 0-9 _ - (after tag.), values of at most 256 characters';
  return { type, tags: some ? tags : null };
}

/** A payload as the JSON of the published data: JSON text as it is, other text as a string, empty as null. */
export function payloadJson(payload: Buffer | string): string {
  const text = typeof payload === 'string' ? payload : decoder.decode(payload);
  if (text.length === 0) return 'null';
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify(text);
  }
}
