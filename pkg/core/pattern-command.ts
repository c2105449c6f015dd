import {
  channelOf, ErrorCode, patternError, startsWithWildcard, withId, type PatternCommand, type RequestId,
} from '../protocol/index.js';
import type { PatternWork } from './patterns.js';
import type { Authorize, AuthorizeRequest } from './policy.js';
import type { Reporter } from './report.js';
import type { Session } from './session.js';
import type { ServerReply } from '../protocol/index.js';

/**
 * A `subscribe` or `unsubscribe` with `pattern` (a parsed JSON object): the pattern command, or the
 * error frame that answers it. A pattern is delivered live only, so a subscribe with `since` (history
 * recovery) or `filter` is refused with `bad_request`, and a malformed pattern with `invalid_pattern`.
 */
/** A refused command's error frame (as inbound.ts answers it). */
type Refused = { error: { type: 'error'; code: ErrorCode; message: string; id?: RequestId } };

export function parsePatternCommand(message: Record<string, unknown>, type: 'subscribe' | 'unsubscribe', id: RequestId | undefined): PatternCommand | Refused {
  const fail = (code: ErrorCode, text: string): Refused => ({ error: withId({ type: 'error' as const, code, message: text }, id) });
  const pattern = message.pattern;
  if (Object.hasOwn(message, 'channel')) return fail(ErrorCode.BadRequest, 'give a channel or a pattern, not both');
  const invalid = patternError(pattern);
  if (invalid !== null) return fail(ErrorCode.InvalidPattern, invalid);
  if (type === 'subscribe') {
    for (const option of ['since', 'filter'] as const) {
      if (Object.hasOwn(message, option) && message[option] !== null) {
        return fail(ErrorCode.BadRequest, option === 'since'
          ? 'a pattern has no history to recover: patterns are delivered live only (subscribe to a channel by name to recover its messages)'
          : 'a pattern subscription takes no filter');
      }
    }
  }
  return withId({ type, pattern: pattern as string }, id);
}

/** What running a pattern command needs of the hub. */
export interface PatternCommandHost {
  readonly options: { readonly authorize: Authorize | null };
  readonly reporter: Reporter;
  enqueue(work: PatternWork): void;
  reply(session: Session, reply: ServerReply): void;
}

/**
 * Runs a pattern command after the middleware chain. An unsubscribe goes to the loop; a subscribe is
 * authorized first, like a channel's:
 * - a pattern whose first level names the hub's own channels (`#…`), personal channels (`user:…`) or
 *   presence channels (`presence-…`) is refused (patterns never reach them);
 * - with an `authorize` hook, the hook decides: it is asked `{ action: 'subscribe', channel: <the
 *   pattern>, pattern: true, … }`, and what it allows covers every channel the pattern matches;
 * - without one, a pattern is allowed unless its first level is a `private-…` channel's.
 * A pattern starting with a wildcard never reaches `private-…` channels, whatever the hook says.
 */
export function runPatternCommand(host: PatternCommandHost, session: Session, command: PatternCommand): Promise<void> | void {
  const { pattern, id } = command;
  if (command.type === 'unsubscribe') return host.enqueue({ kind: 'pattern', action: 'unsubscribe', session, pattern, id });
  const first = startsWithWildcard(pattern) ? null : channelOf(pattern.split('/')[0]!) ?? pattern.split('/')[0]!;
  const reserved = first !== null && (first.startsWith('#') || first.startsWith('user:') || first.startsWith('presence-'));
  const request = { action: 'subscribe' as const, channel: pattern, pattern: true as const, identity: session.identity, clientId: session.id, request: session.request };
  const { authorize } = host.options;
  let verdict: boolean | Promise<boolean>;
  if (reserved) verdict = false;
  else if (authorize === null) verdict = !(first !== null && first.startsWith('private-'));
  else verdict = ask(authorize, request, (error) => host.reporter.error(error, 'authorize_failed', `livehub: authorize threw for a subscribe to pattern ${pattern}: ${error.message}; the request was denied`));
  const apply = (allowed: boolean) => {
    if (session.state !== 'open') return;
    if (allowed) return host.enqueue({ kind: 'pattern', action: 'subscribe', session, pattern, id });
    const why = reserved ? 'patterns never reach the hub\'s own, personal or presence channels' : authorize ? 'the authorize hook did not return true for this pattern (it is asked with pattern: true); allow it there if it should pass' : 'private- channels need an authorize hook that allows them (HubOptions.authorize)';
    host.reporter.report('warn', 'subscribe_refused', `livehub: refused a subscribe to pattern ${pattern} by ${session.identity ? `user ${JSON.stringify(session.identity.userId)}` : 'an anonymous connection'} (${session.id}): ${why}; the client was answered 'forbidden'`, undefined, `subscribe_refused:${pattern}`);
    host.reply(session, withId({ type: 'error', code: ErrorCode.Forbidden, pattern, message: `subscribing to pattern ${pattern} is not allowed` }, id));
  };
  if (typeof verdict === 'boolean') return apply(verdict);
  return verdict.then(apply);
}

/** The hook's verdict: true only for `true`; a throw or rejection denies (reported). */
function ask(hook: Authorize, request: AuthorizeRequest, onError: (error: Error) => void): boolean | Promise<boolean> {
  let verdict: boolean | Promise<boolean>;
  try {
    verdict = hook(request);
  } catch (error) {
    onError(error as Error);
    return false;
  }
  if (verdict instanceof Promise || (typeof verdict === 'object' && verdict !== null)) {
    return Promise.resolve(verdict).then((v) => v === true, (error: Error) => { onError(error); return false; });
  }
  return verdict === true;
}
