import { ErrorCode, withId, type ClientCommand, type ServerReply } from '../protocol.js';
import { parseCommand } from './inbound.js';
import { scanJson } from './limits.js';
import type { ResolvedHubOptions } from './options.js';
import { decide } from './policy.js';
import type { Reporter } from './report.js';
import type { Session } from './session.js';

/** What the router hands validated, authorized commands to: the hub. */
export interface RouterHost {
  readonly options: ResolvedHubOptions;
  readonly reporter: Reporter;
  /** Runs a command that passed every check. */
  command(session: Session, command: ClientCommand): void;
  reply(session: Session, reply: ServerReply): void;
}

/**
 * The command router: every inbound message, from any transport (a WebSocket message, an SSE
 * companion POST), passes through here once: the inbound rate limit, the JSON shape limits (before
 * parsing), parsing and validation, then the channel policy (`authorize`/`canPublish`) for subscribes
 * and publishes, then the hub. A session's messages are handled one at a time, in arrival order,
 * even when a policy is async.
 */
export class Router {
  constructor(private readonly host: RouterHost) {}

  /** An inbound text message of `session`. Never throws. */
  receive(session: Session, text: string): void {
    if (!session.admitInbound()) return;
    const run = () => this.handle(session, text);
    const pending = session.reading ? session.reading.then(run) : run();
    if (!pending) return;
    const tracked: Promise<void> = pending.then(() => { if (session.reading === tracked) session.reading = null; });
    session.reading = tracked;
  }

  private handle(session: Session, text: string): Promise<void> | void {
    if (session.state !== 'open') return;
    const { maxJsonDepth, maxJsonKeys } = this.host.options;
    const shape = scanJson(text, maxJsonDepth, maxJsonKeys);
    if (shape !== 'ok') {
      const code = shape === 'too_deep' ? ErrorCode.TooDeep : ErrorCode.TooManyKeys;
      this.host.reply(session, { type: 'error', code, message: shape === 'too_deep' ? `nesting deeper than ${maxJsonDepth}` : `more than ${maxJsonKeys} keys` });
      return;
    }
    const command = parseCommand(text);
    if ('error' in command) {
      this.host.reply(session, command.error);
      return;
    }
    if (command.type === 'subscribe' || command.type === 'publish') return this.authorize(session, command);
    this.host.command(session, command);
  }

  /** Asks the channel policy; a denial is an error frame `forbidden`, and the connection stays open. */
  private authorize(session: Session, command: Extract<ClientCommand, { type: 'subscribe' | 'publish' }>): Promise<void> | void {
    const { authorize, canPublish } = this.host.options;
    const { reporter } = this.host;
    const verdict = decide({
      action: command.type, channel: command.channel, identity: session.identity, clientId: session.id, request: session.request,
      ...(command.type === 'publish' ? { event: command.event, data: command.data } : {}),
    }, { authorize, canPublish }, (error) => reporter.error(error, 'authorize_failed', `livehub: authorize threw for ${command.type} on ${command.channel}: ${error.message}; the request was denied`));
    const apply = (allowed: boolean) => {
      if (session.state !== 'open') return;
      if (allowed) return this.host.command(session, command);
      this.host.reply(session, withId({
        type: 'error', code: ErrorCode.Forbidden, channel: command.channel,
        message: command.type === 'publish' ? `publishing to ${command.channel} is not allowed` : `subscribing to ${command.channel} is not allowed`,
      }, command.id));
    };
    if (typeof verdict === 'boolean') return apply(verdict);
    return verdict.then(apply);
  }
}
