import type { Publication, PublishOptions } from './engine.js';

/**
 * How the Redis engine lays a publication's fields out, in history and on pub/sub, and reads them
 * back. Nothing here builds the hub's JSON: the hub does, from the fields.
 *
 * A history entry (a Redis Stream entry) has the fields `o` (offset), `t` (type), `d` (the data's
 * JSON text) and, when present, `g` (tags), `f` (the publisher) and `r` (the trace stamp), each JSON.
 *
 * A pub/sub message is `epoch offset type tags from trace data`, one space between each, `-` for a
 * field that is absent. Epochs, offsets and types hold no space (types are validated names); the
 * JSON of tags, from and trace has none either, since the engine writes every space inside their
 * strings as the JSON escape `\u0020`; so the first six spaces end the first six fields, and the
 * data, the only field that may hold spaces, is the rest, whatever it holds.
 */

/** The extra fields of a publish, as the publish script takes them ('' for absent). */
export interface ExtraFields {
  tags: string;
  from: string;
  trace: string;
}

export function extraFields(options: PublishOptions): ExtraFields {
  const { tags, from, trace } = options;
  return {
    tags: tags !== undefined && Object.keys(tags).length > 0 ? spaceless(tags) : '',
    from: from === undefined ? '' : spaceless(from),
    trace: trace === undefined ? '' : spaceless(trace),
  };
}

/** JSON without a raw space: JSON.stringify writes none outside strings, and those inside are escaped. */
function spaceless(value: unknown): string {
  const json = JSON.stringify(value);
  return json.includes(' ') ? json.replaceAll(' ', '\\u0020') : json;
}

/** A pub/sub message of `channel` (see above) as the publication it carries. */
export function decodeMessage(channel: string, message: string): Publication {
  let at = 0;
  const next = () => {
    const end = message.indexOf(' ', at);
    if (end < 0) throw new TypeError(`livehub: a Redis pub/sub message of channel '${channel}' has too few fields`);
    const field = message.slice(at, end);
    at = end + 1;
    return field;
  };
  const epoch = next();
  const offset = Number(next());
  const type = next();
  const tags = next();
  const from = next();
  const trace = next();
  const publication: Publication = { channel, offset, epoch, type, data: message.slice(at) };
  if (tags !== '-') publication.tags = JSON.parse(tags) as Publication['tags'];
  if (from !== '-') publication.from = JSON.parse(from) as Publication['from'];
  if (trace !== '-') publication.trace = JSON.parse(trace) as Publication['trace'];
  return publication;
}

/** A history entry's fields (`[name, value, …]`, see above) as the publication they hold. */
export function decodeEntry(channel: string, epoch: string, fields: readonly string[]): Publication {
  const value: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) value[fields[i]!] = fields[i + 1]!;
  const offset = Number(value.o);
  if (value.p !== undefined) return legacyEntry(channel, epoch, offset, value.p);
  const publication: Publication = { channel, offset, epoch, type: value.t ?? '', data: value.d ?? 'null' };
  if (value.g !== undefined) publication.tags = JSON.parse(value.g) as Publication['tags'];
  if (value.f !== undefined) publication.from = JSON.parse(value.f) as Publication['from'];
  if (value.r !== undefined) publication.trace = JSON.parse(value.r) as Publication['trace'];
  return publication;
}

/**
 * An entry written by livehub versions that kept the hub's whole JSON in one field `p`
 * (`{"channel":C,"type":T,"data":D,"offset":N,"tags":…,"trace":…,"from":…}`): read into fields so
 * that a rolling upgrade loses none of the history the old nodes wrote. Its data is the parsed
 * value written again as JSON (the same value; insignificant formatting may differ).
 */
function legacyEntry(channel: string, epoch: string, offset: number, payload: string): Publication {
  const message = JSON.parse(payload) as { type?: unknown; data?: unknown; tags?: Publication['tags']; from?: Publication['from']; trace?: Publication['trace'] };
  const publication: Publication = { channel, offset, epoch, type: String(message.type), data: JSON.stringify(message.data ?? null) };
  if (message.tags !== undefined) publication.tags = message.tags;
  if (message.from !== undefined) publication.from = message.from;
  if (message.trace !== undefined) publication.trace = message.trace;
  return publication;
}
