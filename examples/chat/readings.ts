/**
 * Sensor readings, as devices publish them and the dashboard shows them. No server-only imports: the
 * dashboard page uses this file too.
 *
 * A sensor named `<name>` (the chat's name rule) publishes on topic `sensors/<name>` a JSON object of
 * measurements: 1 to 8 keys of lower-case letters, digits and `_`, each a finite number, as
 * `{"celsius":21.5,"humidity":40}`.
 */
import { isValidName } from './messages.js';

const PREFIX = 'sensors/';
/** What the dashboard subscribes to: every sensor's channel (an MQTT-style pattern, live only). */
export const SENSORS_PATTERN = 'sensors/+';
export const READING_RULE = 'a reading is a JSON object of 1-8 measurements, each a name of a-z, 0-9 or "_" and a finite number, as {"celsius":21.5}';

/** The channel (and MQTT topic) a sensor publishes on. */
export const sensorChannel = (sensor: string) => `${PREFIX}${sensor}`;

/** The sensor a channel belongs to, or null when it is no sensor's channel. */
export function sensorOf(channel: string): string | null {
  if (!channel.startsWith(PREFIX)) return null;
  const name = channel.slice(PREFIX.length);
  return isValidName(name) ? name : null;
}

/** The measurements of a reading, or null when it is not a valid one. */
export function parseReading(data: unknown): Record<string, number> | null {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return null;
  const entries = Object.entries(data as Record<string, unknown>);
  if (entries.length < 1 || entries.length > 8) return null;
  const reading: Record<string, number> = {};
  for (const [key, value] of entries) {
    if (!/^[a-z0-9_]{1,32}$/.test(key) || typeof value !== 'number' || !Number.isFinite(value)) return null;
    reading[key] = value;
  }
  return reading;
}
