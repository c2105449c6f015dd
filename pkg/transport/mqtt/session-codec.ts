/**
 * A persistent MQTT session as text, to keep in the engine's records while its device is away, so
 * that the device resumes it on any node: its client id, user and protocol version, its
 * subscriptions with the stream position of the last message handed on, its patterns, and the QoS 1
 * deliveries not yet acknowledged or waiting (their bytes in base64).
 */
import type { MqttVersion, PublishParts } from './packets.js';
import { withPacketId } from './qos1.js';
import { MqttSessionState, type Subscription } from './sessions.js';

interface Encoded {
  v: 1;
  clientId: string;
  userId: string | null;
  version: MqttVersion;
  subscriptions: Array<[string, Subscription]>;
  patterns: Array<[string, 0 | 1]>;
  inflight: Array<[number, string]>;
  held: Array<{ topic: string; properties: string | null; payload: string; retain?: boolean }>;
  next: number;
}

const b64 = (bytes: Buffer) => bytes.toString('base64');
const bytes = (text: string) => Buffer.from(text, 'base64');

export function encodeSession(state: MqttSessionState): string {
  const encoded: Encoded = {
    v: 1, clientId: state.clientId, userId: state.userId, version: state.version,
    subscriptions: [...state.subscriptions], patterns: [...state.patterns],
    inflight: [...state.inflight].map(([id, packet]) => [id, b64(withPacketId(packet, id, false))]),
    held: state.held.map((p) => ({ topic: b64(p.topic), properties: p.properties ? b64(p.properties) : null, payload: b64(p.payload), ...(p.retain ? { retain: true } : {}) })),
    next: state.nextPacketId,
  };
  return JSON.stringify(encoded);
}

/** The session the text holds, or null when it is not a session this version wrote. */
export function decodeSession(text: string): MqttSessionState | null {
  let encoded: Encoded;
  try {
    encoded = JSON.parse(text) as Encoded;
  } catch {
    return null;
  }
  if (encoded?.v !== 1 || typeof encoded.clientId !== 'string' || (encoded.version !== 4 && encoded.version !== 5)) return null;
  const state = new MqttSessionState(encoded.clientId, encoded.userId, encoded.version);
  for (const [channel, subscription] of encoded.subscriptions) state.subscriptions.set(channel, { ...subscription });
  for (const [pattern, qos] of encoded.patterns) state.patterns.set(pattern, qos);
  for (const [id, packet] of encoded.inflight) state.inflight.set(id, bytes(packet));
  state.held = encoded.held.map((p): PublishParts => ({ topic: bytes(p.topic), properties: p.properties === null ? null : bytes(p.properties), payload: bytes(p.payload), ...(p.retain ? { retain: true } : {}) }));
  state.nextPacketId = encoded.next;
  return state;
}
