/**
 * What a webhook request carries: `{"events": [...]}`, each event with a unique `id` (the same on a
 * retried request: receivers deduplicate by it), its hub event `type`, the `time` the hub emitted it,
 * the `node` that emitted it, and its `data` (the hub event's fields, see events.ts).
 */
import { randomUUID } from 'node:crypto';
import type { HubEventMap, HubEventName } from '../core/events.js';

export interface WebhookEvent<K extends HubEventName = HubEventName> {
  id: string;
  type: K;
  /** When the hub emitted it: ISO 8601, UTC, milliseconds. */
  time: string;
  /** The hub node that emitted it (`hub.node`). */
  node: string;
  data: HubEventMap[K];
}

export interface WebhookPayload {
  events: WebhookEvent[];
}

/** An event as queued: cheap to make inside the hub's loop (no serialization yet). */
export interface QueuedEvent {
  id: string;
  type: HubEventName;
  at: number;
  data: unknown;
}

export function queuedEvent(type: HubEventName, data: unknown): QueuedEvent {
  return { id: randomUUID(), type, at: Date.now(), data };
}

/** Errors in `data` (the `error` event) become `{name, message, code}`: JSON would make them `{}`. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }) };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * The request body of a batch, and how many events were left out because JSON cannot hold their data
 * (a cycle; hub events never have one, but one bad event must not stop the others).
 */
export function serializeBatch(events: readonly QueuedEvent[], node: string): { body: string; skipped: number } {
  const parts: string[] = [];
  for (const event of events) {
    try {
      parts.push(JSON.stringify({ id: event.id, type: event.type, time: new Date(event.at).toISOString(), node, data: event.data }, replacer));
    } catch {
      // Counted by the caller.
    }
  }
  return { body: `{"events":[${parts.join(',')}]}`, skipped: events.length - parts.length };
}
