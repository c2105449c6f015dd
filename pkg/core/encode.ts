import type { Publication, Publisher, PublishTrace } from '../engine/engine.js';
import type { HubMessage } from '../protocol/index.js';

/**
 * The one place a publication becomes the JSON its subscribers get:
 * `{"channel":C,"type":T,"data":D,"offset":N}`, then `"tags"` (when there are any), `"trace"` and
 * `"from"`, in that order. The loop encodes each publication once when it takes it in (never once
 * per subscriber), and replays and history reads encode theirs the same way, so a message has the
 * same bytes live, replayed, on every node and with every engine.
 *
 * Channel names and types are validated names (no quotes, no backslashes) and `data` is JSON text,
 * so they go in as they are.
 */
export function encodePublication(p: Publication): string {
  let json = `{"channel":"${p.channel}","type":"${p.type}","data":${p.data},"offset":${p.offset}`;
  const { tags, trace, from } = p;
  if (tags !== undefined && hasKeys(tags)) json += `,"tags":${JSON.stringify(tags)}`;
  if (trace !== undefined) json += encodeTrace(trace);
  if (from !== undefined) json += encodeFrom(from);
  return `${json}}`;
}

/** The hub message a publication is, as a subscriber parses it (for history reads and hooks). */
export function messageOf(p: Publication): HubMessage {
  return JSON.parse(encodePublication(p)) as HubMessage;
}

/** The connection a publication must not go to (its publisher, when it asked for except-self), or null. */
export function exceptedClient(p: Publication): string | null {
  const { from } = p;
  return from !== undefined && from.echo === false ? from.client : null;
}

function encodeTrace(trace: PublishTrace): string {
  return `,"trace":{"ts":${Math.floor(trace.ts)}${trace.tp ? `,"tp":${JSON.stringify(trace.tp)}` : ''}}`;
}

function encodeFrom(from: Publisher): string {
  const user = from.user === undefined ? '' : `"user":${JSON.stringify(from.user)},`;
  return `,"from":{${user}"client":${JSON.stringify(from.client)}${from.echo === false ? ',"echo":false' : ''}}`;
}

function hasKeys(object: object): boolean {
  for (const _ in object) return true;
  return false;
}
