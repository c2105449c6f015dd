import { ErrorCode, isValidType, NAME_CHARACTERS, withId, type ClientCommand, type ServerReply } from '../protocol/index.js';
import { APP_CODE, HandlerTable, runChain, type Handler, type InboundMessage, type MessageContext, type Middleware, type Toolkit } from './handlers.js';
import { isBuiltIn, parseCommand, type AppCommand } from './inbound.js';
import { scanJson } from '../protocol/index.js';
import type { ResolvedHubOptions } from './options.js';
import { decide, refusalReason } from './policy.js';
import type { Reporter } from './report.js';
import type { Session } from './session.js';
import { contextOf } from './context.js';
import { BUILT_IN, runBuiltIn, type CommandHost } from './commands.js';
import { runPatternCommand } from './pattern-command.js';

/** What the router needs of the core: its options, and what the built-in commands run on. */
export interface RouterHost extends CommandHost {
  readonly options: ResolvedHubOptions;
  readonly reporter: Reporter;
  /** A message arrived (for the `message.received` event); optional. */
  received?(session: Session, text: string): void;
  /** A handler's toolkit for one message of a session. */
  toolkit(session: Session, answer: (reply: ServerReply) => void, id: AppCommand['id']): Omit<Toolkit, 'reply' | 'fail'>;
}

/**
 * The command router: every inbound message, from any transport (a WebSocket message, an SSE
 * companion POST), passes through here once: the inbound rate limit, the JSON shape limits (before
 * parsing), parsing and validation, the middleware chain (`hub.use`), then, for built-in commands,
 * the channel policy (`authorize`/`canPublish`) and the hub, and for the application's own types,
 * its handler (`hub.handle`). A session's messages go through the chain one at a time, in arrival
 * order, even when a policy or middleware is async; handlers then run concurrently.
 */
export class Router {
  readonly table = new HandlerTable();
  private readonly handles = (type: string) => this.table.handlers.has(type);

  constructor(private readonly host: RouterHost) {}

  /** Registers the handler of an application message type (`hub.handle`). */
  addHandler(type: string, handler: Handler): void {
    if (!isValidType(type) || isBuiltIn(type)) {
      throw new TypeError(`livehub: cannot handle ${JSON.stringify(type)}: ${isBuiltIn(type) ? 'it is a built-in command (use hub.use(type, middleware))' : `use 1-255 characters of ${NAME_CHARACTERS}`}`);
    }
    if (typeof handler !== 'function') throw new TypeError('livehub: a handler must be a function');
    if (this.table.handlers.has(type)) throw new TypeError(`livehub: ${JSON.stringify(type)} already has a handler`);
    this.table.handlers.set(type, handler);
  }

  /** Adds middleware for every message (`'*'`) or for one type (`hub.use`). */
  addMiddleware(type: string, middleware: unknown): void {
    if (typeof middleware !== 'function') throw new TypeError('livehub: middleware must be a function');
    const { table } = this;
    if (type === '*') table.global.push(middleware as Middleware);
    else {
      if (!isValidType(type)) throw new TypeError(`livehub: cannot use middleware for ${JSON.stringify(type)}: use 1-255 characters of ${NAME_CHARACTERS}, or '*'`);
      table.byType.set(type, [...(table.byType.get(type) ?? []), middleware as Middleware]);
    }
  }

  /** An inbound text message of `session`. Never throws. */
  receive(session: Session, text: string): void {
    this.host.received?.(session, text);
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
    const command = parseCommand(text, this.handles);
    if ('error' in command) {
      this.host.reply(session, command.error);
      return;
    }
    const last = () => ('app' in command ? this.runHandler(session, command)
      : 'pattern' in command ? runPatternCommand(this.host, session, command) : this.builtIn(session, command));
    if (!this.table.hasMiddleware) return last();
    const message = command as unknown as InboundMessage;
    return runChain(this.table.chainFor(command.type), message, contextOf(session), last)
      .catch((error: unknown) => this.rejected(session, message, error));
  }

  private builtIn(session: Session, command: ClientCommand): Promise<void> | void {
    if (BUILT_IN[command.type].policy) return this.authorize(session, command as Extract<ClientCommand, { type: 'subscribe' | 'publish' }>);
    runBuiltIn(this.host, session, command);
  }

  /** Asks the channel policy; a denial is an error frame `forbidden`, and the connection stays open. */
  private authorize(session: Session, command: Extract<ClientCommand, { type: 'subscribe' | 'publish' }>): Promise<void> | void {
    const { authorize, canPublish } = this.host.options;
    const { reporter } = this.host;
    const verdict = decide({
      action: command.type, channel: command.channel, identity: session.identity, clientId: session.id, request: session.request,
      ...(command.type === 'publish' ? { type: command.event, event: command.event, data: command.data } : {}),
    }, { authorize, canPublish }, (error) => reporter.error(error, 'authorize_failed', `livehub: authorize threw for ${command.type} on ${command.channel}: ${error.message}; the request was denied`));
    const apply = (allowed: boolean) => {
      if (session.state !== 'open') return;
      if (allowed) return runBuiltIn(this.host, session, command);
      const user = session.identity ? `user ${JSON.stringify(session.identity.userId)}` : 'an anonymous connection';
      reporter.report('warn', `${command.type}_refused`,
        `livehub: refused a ${command.type} to ${command.channel} by ${user} (${session.id}): ${refusalReason({ action: command.type, channel: command.channel, identity: session.identity }, { authorize, canPublish })}; the client was answered 'forbidden'`,
        undefined, `${command.type}_refused:${command.channel}`);
      this.host.reply(session, withId({
        type: 'error', code: ErrorCode.Forbidden, channel: command.channel,
        message: command.type === 'publish' ? `publishing to ${command.channel} is not allowed` : `subscribing to ${command.channel} is not allowed`,
      }, command.id));
    };
    if (typeof verdict === 'boolean') return apply(verdict);
    return verdict.then(apply);
  }

  /**
   * Runs the application's handler for the message, without holding up the session's next message.
   * Its return value (or `kit.reply`) answers the request id; `kit.fail` or an error with a `code`
   * answers with that code; any other error answers `internal` and is logged with its stack, which
   * never reaches the client; no answer within `handlerTimeout` answers `timeout`.
   */
  private runHandler(session: Session, command: AppCommand): void {
    const handler = this.table.handlers.get(command.type);
    // Stryker disable next-line ConditionalExpression: an app command is parsed only for a type with a handler, and handlers are never removed
    if (!handler) return;
    const { id } = command;
    let answered = false;
    let timer: NodeJS.Timeout | null = null;
    const answer = (reply: ServerReply) => {
      if (answered) return;
      answered = true;
      // Stryker disable next-line ConditionalExpression: clearTimeout(null) does nothing
      if (timer) clearTimeout(timer);
      if (id !== undefined && session.state === 'open') this.host.reply(session, reply);
    };
    const kit: Toolkit = {
      ...this.host.toolkit(session, answer, id),
      reply: (data) => answer({ type: 'reply', id: id!, data: data === undefined ? null : data }),
      fail: (code, message) => {
        const known = APP_CODE.test(code);
        if (known) this.logRefusal(session, command.type, code, message ?? code, undefined);
        answer(withId({ type: 'error', code: (known ? code : ErrorCode.Internal) as ErrorCode, message: message ?? code }, id));
      },
    };
    if (id !== undefined) {
      const { handlerTimeout } = this.host.options;
      timer = setTimeout(() => {
        this.host.reporter.report('warn', 'handler_timeout', `livehub: the handler of ${JSON.stringify(command.type)} did not answer within handlerTimeout (${handlerTimeout} ms); the client was answered 'timeout'`, undefined, `handler_timeout:${command.type}`);
        answer(withId({ type: 'error', code: ErrorCode.Timeout, message: `no answer within ${handlerTimeout} ms` }, id));
      }, handlerTimeout);
      timer.unref();
    }
    const message = command as unknown as InboundMessage;
    let result: unknown;
    try {
      result = handler(message, contextOf(session), kit);
    } catch (error) {
      return this.rejected(session, message, error, answer);
    }
    // Stryker disable next-line ConditionalExpression: answer() ignores a second answer; the check only skips building the reply
    Promise.resolve(result).then((value) => { if (!answered) kit.reply(value); }, (error: unknown) => this.rejected(session, message, error, answer));
  }

  /** Logs a request a handler or middleware refused with a code of the app's (once per type and code a minute). */
  private logRefusal(session: Session, type: unknown, code: string, message: string, channel: string | undefined): void {
    const user = session.identity ? `user ${JSON.stringify(session.identity.userId)}` : 'an anonymous connection';
    this.host.reporter.report('warn', 'request_refused',
      `livehub: the handler or middleware of ${JSON.stringify(type)} refused a request of ${user} (${session.id})${channel ? ` on ${channel}` : ''} with '${code}': ${message}; the client was answered with that code`,
      undefined, `request_refused:${String(type)}:${code}`);
  }

  /**
   * A middleware or handler threw: an error with an app `code` answers with it; anything else answers
   * `internal` (never the error's text or stack) and is logged with its stack.
   */
  private rejected(session: Session, message: InboundMessage, error: unknown, answer?: (reply: ServerReply) => void): void {
    const code = (error as { code?: unknown } | null)?.code;
    const id = message.id;
    // Stryker disable next-line ConditionalExpression: parsed commands carry a channel that is a string, or none
    const channel = typeof message.channel === 'string' ? message.channel : undefined;
    let reply: ServerReply;
    if (typeof code === 'string' && APP_CODE.test(code)) {
      reply = withId({ type: 'error', code: code as ErrorCode, message: (error as Error).message || code, ...(channel ? { channel } : {}) }, id);
      this.logRefusal(session, message.type, code, reply.message, channel);
    } else {
      this.host.reporter.error(error, 'handler_failed', `livehub: the handler or middleware of ${JSON.stringify(message.type)} threw: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      reply = withId({ type: 'error', code: ErrorCode.Internal, message: 'the server failed to handle this message', ...(channel ? { channel } : {}) }, id);
    }
    if (answer) return answer(reply);
    if (session.state === 'open') this.host.reply(session, reply);
  }
}
