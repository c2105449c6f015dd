import type { HubMessage } from '../protocol/index.js';
import { matchesFilter, type Batch, type Held } from './batch.js';
import { exceptedClient } from './encode.js';
import type { MessageContext } from './handlers.js';
import type { Reporter } from './report.js';
import { contextOf } from './context.js';
import type { Session } from './session.js';

/** `hub.outgoing(hook)`: the message as this connection gets it, or null to drop it for this connection. */
export type OutgoingHook = (message: HubMessage, context: MessageContext) => HubMessage | null | undefined;

/**
 * The outgoing hook run for one message and session: the message as that session gets it, or null
 * when the hook drops it. A hook that throws leaves the message unchanged (logged).
 */
export function outgoing(hook: OutgoingHook | null, message: HubMessage, session: Session, reporter: Reporter): HubMessage | null {
  if (hook === null) return message;
  try {
    return hook(message, contextOf(session)) ?? null;
  } catch (error) {
    reporter.error(error, 'outgoing_failed', `livehub: the outgoing hook threw for ${message.channel}: ${(error as Error).message}; the message went out unchanged`);
    return message;
  }
}

/** The part of a batch one connection gets, in the batch's layout. */
export interface Shaped {
  offsets: number[];
  payloads: string[];
  types: string[];
}

/**
 * A batch's publications from index `from` on, as `session` must get them: without its own
 * except-self publishes, without those whose tags its `filter` does not match, and as the outgoing
 * hook drops or reshapes them. Null when none is left. Except-self and filters read the
 * publications' fields; only the hook needs the message parsed, once per batch (`parsed`).
 */
export function shape(session: Session, batch: Batch, from: number, parsed: Array<HubMessage | undefined>,
  filter: Record<string, string> | undefined, hook: OutgoingHook | null, reporter: Reporter): Shaped | null {
  const { offsets, payloads, types, publications } = batch;
  let out: Shaped | null = null;
  for (let i = from; i < payloads.length; i++) {
    const publication = publications[i]!;
    if (exceptedClient(publication) === session.id) continue;
    if (filter !== undefined && !matchesFilter(publication, filter)) continue;
    let payload = payloads[i]!;
    let type = types[i]!;
    if (hook !== null) {
      const message = (parsed[i] ??= JSON.parse(payload) as HubMessage);
      const reshaped = outgoing(hook, message, session, reporter);
      if (reshaped === null) continue;
      if (reshaped !== message) {
        payload = JSON.stringify(reshaped);
        if (typeof reshaped.type === 'string') type = reshaped.type;
      }
    }
    out ??= { offsets: [], payloads: [], types: [] };
    out.offsets.push(offsets[i]!);
    out.payloads.push(payload);
    out.types.push(type);
  }
  return out;
}

/**
 * Publications a session gets outside the fan-out (a subscribe's replay, and what was held back for
 * it meanwhile), as it must get them: shaped as a fan-out batch would be (`shape`). Null when none is
 * left.
 */
export function shapeHeld(session: Session, held: readonly Held[], filter: Record<string, string> | undefined,
  hook: OutgoingHook | null, reporter: Reporter): Shaped | null {
  if (held.length === 0) return null;
  const batch: Batch = { offsets: [], payloads: [], types: [], publications: [], excepted: null };
  for (const { publication, payload } of held) {
    batch.offsets.push(publication.offset);
    batch.payloads.push(payload);
    batch.types.push(publication.type);
    batch.publications.push(publication);
  }
  return shape(session, batch, 0, new Array(held.length), filter, hook, reporter);
}
