import { EVERYONE_CHANNEL, CloseCode, ErrorCode, withId, type HubMessage, type ServerReply } from '../protocol/index.js';
export type { OutgoingHook } from './shaping.js';
import { shape, shapeHeld, type OutgoingHook, type Shaped } from './shaping.js';
import type { Engine, StreamPosition } from '../engine/engine.js';
import { addToBatch, type Batch, type Held } from './batch.js';
import { encodePublication } from './encode.js';
import type { WireFormat } from './transport.js';
import { deliveredEvent, HubEvents, sessionInfo } from './events.js';
import { clock } from '../clock.js';
import { sweepStep } from './defaults.js';
import { after } from './maybe.js';
import type { ResolvedHubOptions } from './options.js';
import { userChannel } from './policy.js';
import { isPresenceChannel, type Presence, userSet } from './presence.js';
import type { Reporter } from './report.js';
import type { HubCounters, Session } from './session.js';
import { SweepWheel } from './sweep.js';
import { keepAlive } from './keepalive.js';
import { WriteScheduler } from './writes.js';
import { addMember, membersOf, removeMember, type Members } from './members.js';
import { PatternSubscriptions } from './patterns.js';

export type { Command } from './loop-work.js';
import type { Command } from './loop-work.js';

type Send = (session: Session, reply: ServerReply) => void;

/**
 * The hub's loop: a small state machine that only this loop mutates, after gorilla/websocket's chat
 * hub. Everything that changes state (a session registering or leaving, a subscription, a
 * publication) is queued; one turn, scheduled with `setImmediate`, drains the queue in order (each
 * publication encoded to its wire JSON once, as it is taken in: batch.ts) and then fans out the
 * turn's messages: each channel's messages are encoded once per wire format into
 * one buffer its sessions share, and each session gets one write per flush (at the end of the turn,
 * or held back under load: writes.ts).
 */
export abstract class HubLoop {
  readonly counters: HubCounters = { writes: 0, frames: 0, bytes: 0, evictions: 0 };
  readonly events: HubEvents;
  protected readonly sessions = new Set<Session>();
  /** Each channel's sessions on this node (members.ts: one session is kept without a Set). */
  protected readonly channels = new Map<string, Members>();
  /** Authenticated users' sessions (members.ts). */
  protected readonly users = new Map<string, Members>();
  /** Engine subscriptions still being set up, per channel: a subscribe's history read waits for it. */
  protected readonly subscribing = new Map<string, Promise<unknown>>();
  protected closing: Promise<void> | null = null;
  /** Open sessions by transport name, and (session, channel) pairs: kept as they change, read by `info()`. */
  protected readonly connectionCounts = new Map<string, number>();
  protected subscriptionCount = 0;
  /** `hub.outgoing`: may drop or reshape each message for each session (off the hot path when null). */
  outgoingHook: OutgoingHook | null = null;
  private queue: Command[] = [];
  private scheduled = false;
  /** When queued frames go out: at the end of a turn, or held under load (writes.ts). */
  protected readonly writes = new WriteScheduler(this.counters, () => this.options.maxWriteDelay);
  /** Each session's pings, heartbeats and pong deadline (`sweep`), on one wheel (sweep.ts); made with the first session. */
  private wheel: SweepWheel<Session> | null = null;
  /** Pattern subscriptions (patterns.ts); made on first use. */
  private patternSubscriptions: PatternSubscriptions | null = null;

  abstract readonly options: ResolvedHubOptions;
  abstract readonly reporter: Reporter;
  protected abstract readonly engine: Engine;
  protected abstract readonly presence: Presence;

  constructor() {
    this.events = new HubEvents((error, name) => this.reporter.error(error, 'event_listener_failed', `livehub: a listener of ${name} threw: ${(error as Error)?.message}`));
  }

  enqueue(command: Command): void {
    this.queue.push(command);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.turn);
    }
  }

  /** One loop turn: apply every queued command in order, then fan out and flush. */
  protected readonly turn = (): void => {
    this.scheduled = false;
    const commands = this.queue;
    this.queue = [];
    const batches = new Map<string, Batch>();
    const dirty = this.writes.dirty;
    const send: Send = (session, reply) => {
      // Stryker disable next-line ConditionalExpression: a session that is not open takes no frames (enqueue drops them); the check only saves the encoding
      if (session.state !== 'open') return;
      if (!session.fullProtocol && !('id' in reply && reply.id !== undefined) && 'channel' in reply) {
        // Clients of the plain protocol take every frame with a channel for a message: send them only
        // messages, and errors without the channel key (named in the text instead).
        if (reply.type !== 'error') return;
        const { channel, ...rest } = reply;
        reply = { ...rest, message: `${reply.message} (channel ${channel})` };
      }
      const { transport } = session;
      const json = JSON.stringify(reply);
      session.enqueue(transport.replyFrames ? transport.replyFrames(reply, json) : transport.format.encodeReply(json), 1);
      if (!session.dirty) { session.dirty = true; dirty.push(session); }
    };
    for (const command of commands) {
      switch (command.kind) {
        case 'register':
          if (this.closing) command.session.close(CloseCode.GoingAway, 'server shutting down');
          else if (command.session.state === 'open') {
            this.add(command.session);
            // livehub's clients learn the heartbeat period from the first frame (the Go original's do not need one).
            const { heartbeatPeriod } = this.options;
            if (command.session.fullProtocol && heartbeatPeriod < Infinity) send(command.session, { type: 'connected', heartbeat: heartbeatPeriod });
          }
          break;
        case 'close':
          command.session.close(command.code, command.reason, true);
          break;
        case 'unregister':
          this.remove(command.session);
          break;
        case 'subscribe':
          this.subscribe(command, send);
          break;
        case 'recovered':
          this.answerSubscribe(command, send);
          break;
        case 'reset':
          this.reset(command.channel, command.position, send);
          break;
        case 'unsubscribe':
          if (!this.sessions.has(command.session)) break;
          this.leave(command.session, command.channel);
          send(command.session, withId({ type: 'unsubscribed', channel: command.channel }, command.id));
          // Stryker disable next-line ConditionalExpression: with no listener, emit calls nobody; the check only saves building the event
          if (this.events.listening.unsubscribed) this.events.emit('unsubscribed', { session: sessionInfo(command.session), channel: command.channel });
          break;
        case 'publication':
          addToBatch(batches, command.publication);
          break;
        case 'disconnect-user':
          for (const session of membersOf(this.users.get(command.userId))) session.close(CloseCode.Disconnected, command.reason);
          break;
        case 'reply':
          send(command.session, command.reply);
          break;
        case 'pattern':
          this.patterns.run(command, send);
          break;
      }
    }
    for (const [channel, batch] of batches) { this.fanOut(channel, batch, dirty); this.patternSubscriptions?.fanOut(channel, batch, dirty); }
    this.writes.turnEnded();
  };

  /** Queues a channel's messages of this turn for each of its sessions, encoded once per format. */
  private fanOut(channel: string, batch: Batch, dirty: Session[]): void {
    const { offsets, payloads, types, excepted } = batch;
    const members = channel === EVERYONE_CHANNEL ? this.sessions : this.channels.get(channel);
    if (members === undefined || (members instanceof Set && members.size === 0)) return;
    const targets = members instanceof Set ? members : [members];
    // Most hubs have one wire format in a turn: keep its encoding at hand, the others in a map.
    let format: WireFormat | null = null;
    let shared: unknown = null;
    let others: Map<WireFormat, unknown> | null = null;
    let reached = 0;
    let parsed: Array<HubMessage | undefined> | null = null;
    for (const session of targets) {
      const streams = session.streams;
      let from = 0;
      if (streams.recovering !== null || streams.floors !== null) {
        const route = streams.route(channel, batch);
        if (route === 'none') continue;
        if (route !== 'all') from = route;
      }
      const transport = session.transport;
      let frames: Buffer;
      const filter = session.filters === null ? undefined : session.filters.get(channel);
      if ((excepted !== null && excepted.has(session.id)) || filter !== undefined || this.outgoingHook !== null) {
        // This session gets a batch of its own: without what it published except-self, what its
        // filter does not match, and what the outgoing hook drops or reshapes for it.
        parsed ??= new Array(payloads.length);
        const own = shape(session, batch, from, parsed, filter, this.outgoingHook, this.reporter);
        if (own === null) continue;
        session.enqueue(transport.frames(transport.format.encodeMessages(channel, own.offsets, own.payloads, own.types), channel, own.offsets), own.payloads.length);
        reached++;
        if (!session.dirty) { session.dirty = true; dirty.push(session); }
        continue;
      }
      if (from > 0) {
        const subset = offsets.slice(from);
        frames = transport.frames(transport.format.encodeMessages(channel, subset, payloads.slice(from), types.slice(from)), channel, subset);
      } else {
        if (transport.format !== format) {
          if (format === null) {
            format = transport.format;
            shared = format.encodeMessages(channel, offsets, payloads, types);
          } else {
            others ??= new Map();
            if (!others.has(transport.format)) others.set(transport.format, transport.format.encodeMessages(channel, offsets, payloads, types));
          }
        }
        frames = transport.frames(transport.format === format ? shared : others!.get(transport.format), channel, offsets);
      }
      session.enqueue(frames, payloads.length - from);
      reached++;
      if (!session.dirty) { session.dirty = true; dirty.push(session); }
    }
    // Stryker disable next-line ConditionalExpression: with no listener, emit calls nobody; the check only saves building the event
    if (this.events.listening['message.delivered']) this.events.emit('message.delivered', deliveredEvent(channel, batch.publications, reached));
  }

  private subscribe(command: Extract<Command, { kind: 'subscribe' }>, send: Send): void {
    const { session, channel } = command;
    if (!this.sessions.has(session)) return;
    // The personal channel is joined at connect: a subscribe to it answers like a first one (with its
    // position, and a replay for `since`), without joining twice.
    const personal = session.identity !== null && channel === userChannel(session.identity.userId) && session.streams.recovering?.has(channel) !== true;
    if (session.channels.has(channel) && !personal) {
      send(session, withId({ type: 'error', code: ErrorCode.AlreadySubscribed, channel, message: `already subscribed to ${channel}; the subscription stands` }, command.id));
      return;
    }
    const full = session.channels.size >= this.options.maxChannelsPerClient;
    if (channel !== EVERYONE_CHANNEL && full && !personal) {
      this.reporter.report('warn', 'subscribe_refused', `livehub: refused a subscribe to ${channel} by ${session.identity ? `user ${JSON.stringify(session.identity.userId)}` : 'an anonymous connection'} (${session.id}): it is in ${this.options.maxChannelsPerClient} channels already (maxChannelsPerClient); raise the option or unsubscribe first; the client was answered 'too_many_channels'`, undefined, 'subscribe_refused:too_many_channels');
      send(session, withId({
        type: 'error', code: ErrorCode.TooManyChannels, channel,
        message: `at most ${this.options.maxChannelsPerClient} channels per connection`,
      }, command.id));
      return;
    }
    if (channel === EVERYONE_CHANNEL) {
      send(session, withId({ type: 'subscribed', channel }, command.id));
      return;
    }
    if (!session.channels.has(channel)) this.join(session, channel);
    if (command.filter) (session.filters ??= new Map()).set(channel, command.filter);
    // Hold live publications for this session until the engine says where the stream stands.
    const hold = session.streams.hold(channel);
    const { since, id } = command;
    // Read the position only once this node receives the channel's publications: anything
    // published after the read then reaches the session live, and nothing falls in between.
    const ready = this.subscribing.get(channel);
    after(() => (ready ? ready.then(() => this.engine.history(channel, since ?? null)) : this.engine.history(channel, since ?? null)),
      (result) => this.enqueue({ kind: 'recovered', session, channel, id, since, result, hold }),
      (error) => {
        this.reporter.report('error', 'subscribe_failed', `livehub: subscribe to ${channel} failed reading its stream position: ${error.message}; the client was answered 'unavailable' and retries`, error, `subscribe_failed:${error.message}`);
        this.enqueue({ kind: 'recovered', session, channel, id, since, result: null, hold });
      });
  }

  /**
   * Answers a subscribe once the engine has: `subscribed` with the stream position (and, for a
   * subscribe with `since`, whether it was recovered), the replayed publications, then those held back
   * meanwhile that come after them. From then on the session gets nothing at or below what it was given.
   */
  private answerSubscribe(command: Extract<Command, { kind: 'recovered' }>, send: Send): void {
    const { session, channel, id, since, result } = command;
    // Not this subscribe's hold: the channel was left (and maybe subscribed again) while it read.
    const held = session.streams.release(channel, command.hold);
    if (held === undefined || !session.channels.has(channel) || session.state !== 'open') return;
    if (!result) {
      this.leave(session, channel);
      send(session, withId({ type: 'error', code: ErrorCode.Unavailable, channel, message: `subscribe to ${channel} failed; retry later` }, id));
      return;
    }
    const { position, publications, recovered } = result;
    const resumed = since !== undefined && recovered;
    // Recovered: the replay runs to the position, and held publications continue after it. Otherwise
    // the session gets everything fanned out since it joined, so its position is just before that.
    const base = resumed || held.length === 0 ? position.offset : Math.min(position.offset, held[0]!.publication.offset - 1);
    send(session, withId({
      type: 'subscribed', channel, offset: base, epoch: position.epoch,
      ...(since ? { recovered } : {}),
      ...(session.identity !== null && channel === userChannel(session.identity.userId) ? { personal: true as const } : {}),
    }, id));
    let top = base;
    // Except-self, the subscription's filter and the outgoing hook hold in a replay too: the session
    // gets back neither what it published so, nor what its filter leaves out or the hook drops.
    const filter = session.filters?.get(channel);
    const replay = resumed ? shapeHeld(session, publications.map((p) => ({ publication: p, payload: encodePublication(p) })), filter, this.outgoingHook, this.reporter) : null;
    const after: Held[] = [];
    for (const item of held) {
      if (item.publication.offset > top) {
        after.push(item);
        top = item.publication.offset;
      }
    }
    const live = shapeHeld(session, after, filter, this.outgoingHook, this.reporter);
    const { transport } = session;
    const frames = ({ offsets, payloads, types }: Shaped) => transport.frames(transport.format.encodeMessages(channel, offsets, payloads, types), channel, offsets);
    // The replay goes out as one, outside the slow-consumer limits (the history size bounds it); what
    // was held meanwhile is live traffic, and counts.
    if (replay !== null) session.enqueueReplay(channel, frames(replay), replay.payloads.length);
    if (live !== null) session.enqueue(frames(live), live.payloads.length);
    session.streams.setFloor(channel, top);
    // Stryker disable next-line ConditionalExpression: with no listener, emit calls nobody; the check only saves building the event
    if (this.events.listening.subscribed) {
      this.events.emit('subscribed', { session: sessionInfo(session), channel, ...(since ? { recovered } : {}) });
    }
    if (isPresenceChannel(channel) && !session.presence?.has(channel)) this.presence.join(session, channel);
  }

  /**
   * The stream broke (history lost, or a gap no longer in history): every local subscriber's position
   * is void. Tell them where it stands now; the livehub client emits `gap`.
   */
  private reset(channel: string, position: StreamPosition, send: Send): void {
    for (const session of membersOf(this.channels.get(channel))) {
      if (session.streams.recovering?.has(channel)) continue; // its subscribe answer comes from the new stream
      session.streams.forget(channel);
      session.streams.setFloor(channel, position.offset);
      send(session, { type: 'reset', channel, offset: position.offset, epoch: position.epoch });
    }
    // Stryker disable next-line ConditionalExpression: with no listener, emit calls nobody; the check only saves building the event
    if (this.events.listening.reset) this.events.emit('reset', { channel, offset: position.offset, epoch: position.epoch });
  }

  protected join(session: Session, channel: string): void {
    if (addMember(this.channels, channel, session)) {
      let pending: unknown;
      const failed = (error: unknown) => this.reporter.report('error', 'engine_subscribe_failed',
        `livehub: the engine could not subscribe to ${channel}: ${error instanceof Error ? error.message : String(error)}; its publications from other nodes may be late until the engine repairs it`, error);
      try {
        pending = this.engine.subscribe(channel);
      } catch (error) {
        failed(error);
      }
      if (pending instanceof Promise) {
        const settled: Promise<unknown> = pending.catch(failed).finally(() => {
          if (this.subscribing.get(channel) === settled) this.subscribing.delete(channel);
        });
        this.subscribing.set(channel, settled);
      }
    }
    session.channels.add(channel);
    this.subscriptionCount++;
  }

  protected leave(session: Session, channel: string): void {
    session.channels.delete(channel);
    if (session.filters?.delete(channel) && session.filters.size === 0) session.filters = null;
    this.presence.leave(session, channel);
    session.streams.forget(channel);
    if (!removeMember(this.channels, channel, session)) return;
    this.subscriptionCount--;
    if (!this.channels.has(channel)) {
      after(() => this.engine.unsubscribe(channel), () => {}, (error) => this.reporter.error(error, 'engine_unsubscribe_failed'));
    }
  }

  /** Registers a session; an authenticated one joins its personal channel `user:<id>`. */
  private add(session: Session): void {
    this.sessions.add(session);
    this.sweeper.schedule(session, this.sweep(session, clock())); // nothing is due yet: when the first timer is
    const { name } = session.transport;
    this.connectionCounts.set(name, (this.connectionCounts.get(name) ?? 0) + 1);
    // Stryker disable next-line ConditionalExpression: with no listener, emit calls nobody; the check only saves building the event
    if (this.events.listening['connection.opened']) this.events.emit('connection.opened', { session: sessionInfo(session) });
    const userId = session.identity?.userId;
    if (userId === undefined) return;
    this.presence.register(session);
    addMember(this.users, userId, session);
    this.join(session, userChannel(userId));
  }

  private remove(session: Session): void {
    if (!this.sessions.delete(session)) return;
    this.sweeper.remove(session);
    const { name } = session.transport;
    this.connectionCounts.set(name, (this.connectionCounts.get(name) ?? 1) - 1);
    for (const channel of session.channels) this.leave(session, channel);
    this.patternSubscriptions?.removeSession(session);
    // Stryker disable next-line ConditionalExpression: with no listener, emit calls nobody; the check only saves building the event
    if (this.events.listening['connection.closed']) {
      this.events.emit('connection.closed', { session: sessionInfo(session), ...(session.closeCode === undefined ? {} : { code: session.closeCode, reason: session.closeReason ?? '' }) });
    }
    const userId = session.identity?.userId;
    if (userId === undefined) return;
    this.presence.leave(session, userSet(userId));
    removeMember(this.users, userId, session);
  }

  /** The pattern subscriptions of this node's sessions, made on first use. */
  protected get patterns(): PatternSubscriptions {
    return (this.patternSubscriptions ??= new PatternSubscriptions({ options: this.options, reporter: this.reporter, engine: this.engine,
      enqueue: (work) => this.enqueue(work), has: (session) => this.sessions.has(session), outgoingHook: () => this.outgoingHook }));
  }

  /** The sweep wheel, made on first use (the options are set after this class's fields). */
  protected get sweeper(): SweepWheel<Session> {
    return (this.wheel ??= new SweepWheel<Session>(sweepStep(this.options), (session, now) => this.sweep(session, now),
      (error) => this.reporter.error(error, 'sweep_failed', `livehub: a connection's ping or heartbeat failed: ${(error as Error)?.message}; it is tried again a step later`)));
  }

  /** A session's timers came due (the sweep wheel calls this at the earliest of them): keepalive.ts. */
  protected sweep(session: Session, now: number): number {
    return keepAlive(session, now, this.options);
  }
}
