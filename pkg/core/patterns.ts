import { ErrorCode, withId, type PatternReply, type RequestId, type ServerReply } from '../protocol/index.js';
import type { Engine } from '../engine/engine.js';
import type { Batch } from './batch.js';
import { after } from './maybe.js';
import type { ResolvedHubOptions } from './options.js';
import type { Reporter } from './report.js';
import type { Session } from './session.js';
import { shape, type OutgoingHook } from './shaping.js';
import { TopicTrie } from './topic-trie.js';
import type { WireFormat } from './transport.js';

/** A pattern subscribe or unsubscribe that passed the router (or a failed engine subscription). */
export interface PatternWork {
  kind: 'pattern';
  action: 'subscribe' | 'unsubscribe' | 'failed';
  session: Session;
  pattern: string;
  id?: RequestId;
}

type Send = (session: Session, reply: ServerReply) => void;

/** What pattern subscriptions need of the hub's loop. */
export interface PatternHost {
  readonly options: ResolvedHubOptions;
  readonly reporter: Reporter;
  readonly engine: Engine;
  enqueue(work: PatternWork | { kind: 'reply'; session: Session; reply: ServerReply }): void;
  /** Whether the session is registered with the loop (not yet gone). */
  has(session: Session): boolean;
  outgoingHook(): OutgoingHook | null;
}

/**
 * The pattern subscriptions of this node's connections: a topic trie of patterns to sessions, each
 * session's patterns (at most `maxPatternsPerClient`), and the engine's pattern subscriptions (one
 * per pattern while a local session holds it). Each turn's publications reach the sessions whose
 * patterns match their channel, once each, besides those subscribed to the channel by name (who get
 * them from the channel). Live delivery only: no history, no positions, no gap or reset.
 */
export class PatternSubscriptions {
  private readonly trie = new TopicTrie<Session>();
  private readonly bySession = new Map<Session, Set<string>>();
  /** Engine pattern subscriptions being set up: a second subscriber waits for the same one. */
  private readonly subscribing = new Map<string, Promise<void>>();

  constructor(private readonly host: PatternHost) {}

  /** How many patterns this node's connections hold, all told. */
  get size(): number {
    return this.trie.size;
  }

  /** The patterns a session holds (for its MQTT QoS and for tests). */
  of(session: Session): ReadonlySet<string> {
    return this.bySession.get(session) ?? new Set();
  }

  run(work: PatternWork, send: Send): void {
    const { session, pattern, id } = work;
    if (work.action === 'unsubscribe') {
      this.remove(session, pattern);
      if (this.host.has(session)) send(session, withId({ type: 'unsubscribed', pattern } satisfies PatternReply, id) as unknown as ServerReply);
      return;
    }
    if (work.action === 'failed') {
      this.remove(session, pattern);
      send(session, withId({ type: 'error', code: ErrorCode.Unavailable, pattern, message: `subscribe to pattern ${pattern} failed; retry later` }, id));
      return;
    }
    if (!this.host.has(session)) return;
    const held = this.bySession.get(session);
    if (held?.has(pattern)) {
      send(session, withId({ type: 'error', code: ErrorCode.AlreadySubscribed, pattern, message: `already subscribed to pattern ${pattern}; the subscription stands` }, id));
      return;
    }
    const { maxPatternsPerClient } = this.host.options;
    if ((held?.size ?? 0) >= maxPatternsPerClient) {
      this.host.reporter.report('warn', 'subscribe_refused', `livehub: refused a subscribe to pattern ${pattern} by ${who(session)}: it holds ${maxPatternsPerClient} patterns already (maxPatternsPerClient); raise the option or unsubscribe a pattern first; the client was answered 'too_many_patterns'`, undefined, 'subscribe_refused:too_many_patterns');
      send(session, withId({ type: 'error', code: ErrorCode.TooManyPatterns, pattern, message: `at most ${maxPatternsPerClient} patterns per connection` }, id));
      return;
    }
    const { engine, reporter } = this.host;
    if (typeof engine.subscribePattern !== 'function') {
      reporter.report('error', 'subscribe_refused', `livehub: refused a subscribe to pattern ${pattern} by ${who(session)}: the hub's engine does not deliver by pattern (it has no subscribePattern); use an engine that does (memory, Redis, PostgreSQL); the client was answered 'unavailable'`, undefined, 'subscribe_refused:no_patterns');
      send(session, withId({ type: 'error', code: ErrorCode.Unavailable, pattern, message: 'the server cannot deliver by pattern' }, id));
      return;
    }
    if (held) held.add(pattern);
    else this.bySession.set(session, new Set([pattern]));
    const answer: ServerReply = withId({ type: 'subscribed', pattern } satisfies PatternReply, id) as unknown as ServerReply;
    if (this.trie.add(pattern, session)) {
      const ready = new Promise<void>((resolve, reject) => after(() => engine.subscribePattern!(pattern), () => resolve(), reject))
        .finally(() => { if (this.subscribing.get(pattern) === ready) this.subscribing.delete(pattern); });
      this.subscribing.set(pattern, ready);
    }
    const pending = this.subscribing.get(pattern);
    if (pending === undefined) return send(session, answer);
    pending.then(() => this.host.enqueue({ kind: 'reply', session, reply: answer }), (error: unknown) => {
      reporter.report('error', 'subscribe_failed', `livehub: the engine could not subscribe to pattern ${pattern}: ${error instanceof Error ? error.message : String(error)}; the client was answered 'unavailable' and retries`, error, `subscribe_failed:${pattern}`);
      this.host.enqueue({ kind: 'pattern', action: 'failed', session, pattern, id });
    });
  }

  /** A session left: its patterns go (and the engine's, when it was their last local subscriber). */
  removeSession(session: Session): void {
    const held = this.bySession.get(session);
    if (held === undefined) return;
    for (const pattern of held) this.remove(session, pattern);
  }

  private remove(session: Session, pattern: string): void {
    const held = this.bySession.get(session);
    if (!held?.delete(pattern)) return;
    if (held.size === 0) this.bySession.delete(session);
    if (!this.trie.remove(pattern, session)) return;
    const { engine, reporter } = this.host;
    if (typeof engine.unsubscribePattern === 'function') {
      after(() => engine.unsubscribePattern!(pattern), () => {}, (error) => reporter.error(error, 'engine_unsubscribe_failed', `livehub: the engine could not unsubscribe from pattern ${pattern}: ${error.message}; this node may receive its publications until the engine reconnects`));
    }
  }

  /**
   * Queues a channel's messages of this turn for the sessions whose patterns match it and that are
   * not subscribed to the channel by name, once each, encoded once per wire format (a session that
   * published one except-self, or with an outgoing hook, gets its own). Returns how many it reached.
   */
  fanOut(channel: string, batch: Batch, dirty: Session[]): number {
    if (this.trie.size === 0) return 0;
    let targets: Set<Session> | null = null;
    this.trie.match(channel, (session) => {
      if (session.state === 'open' && !session.channels.has(channel)) (targets ??= new Set()).add(session);
    });
    if (targets === null) return 0;
    const { offsets, payloads, types, excepted } = batch;
    const hook = this.host.outgoingHook();
    const encoded = new Map<WireFormat, unknown>();
    let parsed: Parameters<typeof shape>[3] | null = null;
    let reached = 0;
    for (const session of targets as Set<Session>) {
      const { transport } = session;
      let frames: Buffer;
      let count = payloads.length;
      if ((excepted !== null && excepted.has(session.id)) || hook !== null) {
        parsed ??= new Array(payloads.length);
        const own = shape(session, batch, 0, parsed, undefined, hook, this.host.reporter);
        if (own === null) continue;
        frames = transport.frames(transport.format.encodeMessages(channel, own.offsets, own.payloads, own.types), channel, own.offsets);
        count = own.payloads.length;
      } else {
        let shared = encoded.get(transport.format);
        if (shared === undefined) encoded.set(transport.format, (shared = transport.format.encodeMessages(channel, offsets, payloads, types)));
        frames = transport.frames(shared, channel, offsets);
      }
      session.enqueue(frames, count);
      reached++;
      if (!session.dirty) { session.dirty = true; dirty.push(session); }
    }
    return reached;
  }
}

function who(session: Session): string {
  return `${session.identity ? `user ${JSON.stringify(session.identity.userId)}` : 'an anonymous connection'} (${session.id})`;
}
