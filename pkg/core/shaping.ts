import { exceptedClient } from '../engine/engine.js';
import type { HubMessage } from '../protocol/index.js';
import type { MessageContext } from './handlers.js';
import type { Reporter } from './report.js';
import { contextOf } from './context.js';
import type { Session } from './session.js';

/** `hub.outgoing(hook)`: the message as this connection gets it, or null to drop it for this connection. */
export type OutgoingHook = (message: HubMessage, context: MessageContext) => HubMessage | null | undefined;

/**
 * One payload as `session` must get it: null when it must not (its own except-self publish, a tag
 * its filter does not match, or the outgoing hook dropped it), else the payload, reshaped if the
 * hook changed the message. Payloads are parsed once per batch, and only here.
 */
export function shape(session: Session, payload: string, index: number, parsed: Array<HubMessage | undefined>,
  filter: Record<string, string> | undefined, hook: OutgoingHook | null, reporter: Reporter): string | null {
  if (exceptedClient(payload) === session.id) return null;
  if (filter === undefined && hook === null) return payload;
  const message = (parsed[index] ??= JSON.parse(payload) as HubMessage);
  if (filter !== undefined) {
    const tags = message.tags ?? {};
    for (const key in filter) if (tags[key] !== filter[key]) return null;
  }
  if (hook === null) return payload;
  let out: HubMessage | null | undefined;
  try {
    out = hook(message, contextOf(session));
  } catch (error) {
    reporter.error(error, 'outgoing_failed', `livehub: the outgoing hook threw for ${message.channel}: ${(error as Error).message}; the message went out unchanged`);
    return payload;
  }
  if (out === null || out === undefined) return null;
  return out === message ? payload : JSON.stringify(out);
}

