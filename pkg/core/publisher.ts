import { ErrorCode, isValidChannel, isValidType, isValidTags, NAME_CHARACTERS, withId, type ClientCommand, type ServerReply } from '../protocol/index.js';
import type { Engine, Publisher as PublisherStamp, PublishOptions, PublishResult } from '../engine/engine.js';
import type { HubEvents } from './events.js';
import { after } from './maybe.js';
import { checkKnownOptions } from '../options-check.js';
import { historyPolicy } from './history-policy.js';
import type { ResolvedHubOptions } from './options.js';
import { LivehubError, type Reporter } from './report.js';
import type { Session } from './session.js';

/** Options of a server-side publish. */
export interface HubPublishOptions {
  /**
   * Makes the publish idempotent: a second publish with the same key (within `publishDedupeWindow`,
   * on any node) publishes nothing and resolves with the first one's position and `duplicate: true`.
   */
  idempotencyKey?: string;
  /** Tags subscribers can filter on (`subscribe` with `filter`): at most 16 string values. */
  tags?: Record<string, string>;
  /**
   * A connection id (a message's `from.client`, a handler's `ctx.id`) that must not get this message:
   * except-self for a publish made on a connection's behalf (the HTTP API, a server handler).
   */
  exceptClient?: string;
}

/** Traces publishes (set by `traceHub` in livehub/observe): a span per publish, ended with its outcome. */
export type PublishTracer = (channel: string, type: string) => { traceparent: string | undefined; done(outcome: PublishResult | Error): void };

/**
 * Publishing, from the server and from clients: validation, the engine call with its history policy,
 * the publisher stamp and idempotency, and failures that are always reported (logged, rejected to
 * the caller, answered to the client) and never silent.
 */
export class Publisher {
  constructor(
    private readonly engine: Engine,
    private readonly options: ResolvedHubOptions,
    private readonly reporter: Reporter,
    private readonly events: HubEvents,
    private readonly closing: () => boolean,
  ) {}

  /** Set by `hub.tracePublishes`. */
  tracer: PublishTracer | null = null;

  /** `hub.publish`: see its documentation in hub.ts. */
  publish(channel: string, type: string, data: unknown, options: HubPublishOptions = {}): Promise<PublishResult> {
    checkChannel(channel);
    checkType(type);
    if (options === null || typeof options !== 'object') throw new TypeError('livehub: publish options must be an object');
    checkKnownOptions(options, ['idempotencyKey', 'tags', 'exceptClient'], 'hub.publish()');
    const { idempotencyKey, tags, exceptClient } = options;
    if (exceptClient !== undefined && (typeof exceptClient !== 'string' || exceptClient.length === 0 || exceptClient.includes('"'))) {
      throw new TypeError('livehub: exceptClient must be a connection id');
    }
    if (tags !== undefined && !isValidTags(tags)) {
      throw new TypeError('livehub: tags must be an object of at most 16 tags: keys of A-Z a-z 0-9 _ -, string values of at most 256 characters');
    }
    if (idempotencyKey !== undefined && (typeof idempotencyKey !== 'string' || idempotencyKey.length === 0 || idempotencyKey.length > 128)) {
      throw new TypeError('livehub: idempotencyKey must be a string of 1-128 characters');
    }
    const extra: PublishOptions = idempotencyKey === undefined ? {} : { idempotencyKey: `server:${idempotencyKey}`, idempotencyTtl: this.options.publishDedupeWindow };
    if (tags !== undefined) extra.tags = tags;
    if (exceptClient !== undefined) extra.from = { client: exceptClient, echo: false };
    return this.publishJson(channel, type, encodeData(data), extra);
  }

  /**
   * A publish of data already in JSON, to a channel already checked. `announce`: the hub's own
   * announcement (a presence leave while connections close), tried even while the hub closes, and
   * only noted (info) if the engine is gone by then.
   */
  publishJson(channel: string, type: string, dataJson: string, extra: PublishOptions = {}, announce = false): Promise<PublishResult> {
    let result: Promise<PublishResult>;
    try {
      result = Promise.resolve(this.publishNow(channel, type, dataJson, extra, announce));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.catch(() => {}); // awaiting is optional; the failure is logged in failed()
    return result;
  }

  /**
   * The engine's publish with its outcome reported (the `message.published` event, a trace span, a
   * logged failure, thrown or rejected as a LivehubError): synchronous when the engine answers at
   * once (the memory engine), so a client's publish costs no promise; a promise otherwise (Redis).
   */
  private publishNow(channel: string, type: string, dataJson: string, extra: PublishOptions, announce: boolean): PublishResult | Promise<PublishResult> {
    // Stamped only when measured: a publish time for the delivery latency, a traceparent for traces.
    let traced: ReturnType<PublishTracer> | null = null;
    if (this.tracer !== null || this.events.listening['message.delivered']) {
      traced = this.tracer?.(channel, type) ?? null;
      extra = { ...extra, trace: traced?.traceparent ? { ts: Date.now(), tp: traced.traceparent } : { ts: Date.now() } };
    }
    const done = (position: PublishResult): PublishResult => {
      traced?.done(position);
      if (this.events.listening['message.published'] && !position.duplicate) {
        this.events.emit('message.published', { channel, type, offset: position.offset, epoch: position.epoch, ...(extra.from ? { from: extra.from } : {}) });
      }
      return position;
    };
    const failed = (error: unknown): never => {
      traced?.done(error instanceof Error ? error : new Error(String(error)));
      if (announce && this.closing()) {
        this.reporter.report('info', 'announce_skipped', `livehub: a ${type} announcement on ${channel} was not published while the hub closed: ${error instanceof Error ? error.message : String(error)}`);
        throw error;
      }
      throw this.failed(channel, error);
    };
    let position: PublishResult | Promise<PublishResult>;
    try {
      if (this.closing() && !announce) throw new LivehubError('closed', `livehub: publish to ${channel} after hub.close(); nothing was published`);
      position = this.engine.publish(channel, type, dataJson, historyPolicy(this.options, channel), extra);
    } catch (error) {
      return failed(error);
    }
    return position instanceof Promise ? position.then(done, failed) : done(position);
  }

  /**
   * A client's publish, stamped with who sent it (`from`). One with a string id is idempotent (per
   * user, within `publishDedupeWindow`, across reconnects and nodes): the engine claims the id in the
   * same atomic step as the publish, so a retry of a publish already made is acked again with the
   * same position and not fanned out twice, and a publish that failed leaves the id free to retry.
   */
  fromClient(session: Session, command: Extract<ClientCommand, { type: 'publish' }>, reply: (session: Session, reply: ServerReply) => void): void {
    const { channel, event, id } = command;
    let dataJson: string;
    try {
      dataJson = JSON.stringify(command.data ?? null);
    } catch {
      return reply(session, withId({ type: 'error', code: ErrorCode.BadData, channel, message: 'data cannot be encoded as JSON' }, id));
    }
    const from = publisherOf(session, command.exceptSelf === true);
    const extra: PublishOptions = typeof id === 'string'
      ? { from, idempotencyKey: `publish:${from.user ?? ''}:${id}`, idempotencyTtl: this.options.publishDedupeWindow }
      : { from };
    if (command.tags !== undefined) extra.tags = command.tags;
    after(() => this.publishNow(channel, event, dataJson, extra, false),
      (position) => { if (id !== undefined) reply(session, { type: 'ack', id, offset: position.offset, epoch: position.epoch }); },
      (error) => reply(session, withId(isOutcomeUnknown(error)
        ? { type: 'error', code: ErrorCode.OutcomeUnknown, channel, message: `publish to ${channel}: the engine did not answer, so it may have been published; retry with the same id` }
        : { type: 'error', code: ErrorCode.Unavailable, channel, message: `publish to ${channel} failed; nothing was published; retry later` }, id)));
  }

  /**
   * Logs a failed publish and gives the Error its caller gets: code `unavailable` (nothing was
   * published), `outcome_unknown` (the engine may have published it) or `closed`.
   */
  private failed(channel: string, error: unknown): LivehubError {
    const cause = error instanceof Error ? error.message : String(error);
    const code = error instanceof LivehubError && error.code === 'closed' ? 'closed' : isOutcomeUnknown(error) ? ErrorCode.OutcomeUnknown : ErrorCode.Unavailable;
    // livehub's engines say what failed, where, and what to do; another error is wrapped and explained.
    const explained = cause.startsWith('livehub: ');
    const failure = error instanceof LivehubError && error.code === code
      ? error
      : new LivehubError(code, explained ? cause : `livehub: publish to ${channel} failed: ${cause}`, { cause: error });
    const outcome = code === ErrorCode.OutcomeUnknown
      ? 'it may or may not have been published (a retry with the same idempotency key settles it without a duplicate)'
      : 'the message was not published';
    const advice = code === 'closed' || explained ? '' : `; ${outcome} (check the engine: its connection, REDIS_URL)`;
    this.reporter.report('error', 'publish_failed', `${failure.message}${advice}`, failure, `publish_failed:${cause}`);
    if (this.events.listening.error) this.events.emit('error', { code: 'publish_failed', message: failure.message, error: failure });
    return failure;
  }
}

/** Whether an engine's publish failure says the publish may have been applied (`code: 'outcome_unknown'`). */
function isOutcomeUnknown(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === ErrorCode.OutcomeUnknown;
}

/** The `from` stamp of a publish made by (or on behalf of) a session; `exceptSelf` keeps it from the session. */
export function publisherOf(session: Session, exceptSelf: boolean): PublisherStamp {
  const userId = session.identity?.userId;
  const from: PublisherStamp = userId === undefined ? { client: session.id } : { user: userId, client: session.id };
  if (exceptSelf) from.echo = false;
  return from;
}

/** Throws a TypeError naming the allowed characters for an invalid channel name. */
export function checkChannel(channel: string): void {
  if (!isValidChannel(channel)) {
    throw new TypeError(`livehub: invalid channel name ${JSON.stringify(channel)}: use 1-255 characters of ${NAME_CHARACTERS}, or "*"`);
  }
  if (channel.charCodeAt(0) === 35 /* # */) {
    throw new TypeError(`livehub: channel ${JSON.stringify(channel)} starts with "#": those channels are the hub's own (clients and the HTTP API are refused them too)`);
  }
}

/** Throws a TypeError naming the allowed characters for an invalid message type. */
export function checkType(type: string): void {
  if (!isValidType(type)) throw new TypeError(`livehub: invalid message type ${JSON.stringify(type)}: use 1-255 characters of ${NAME_CHARACTERS}`);
}

/** Data as JSON, or a TypeError saying why it cannot be (BigInt, a cycle). */
export function encodeData(data: unknown): string {
  try {
    return JSON.stringify(data ?? null);
  } catch (error) {
    throw new TypeError(`livehub: data cannot be encoded as JSON: ${(error as Error).message}`);
  }
}
