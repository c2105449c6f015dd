import { randomBytes } from 'node:crypto';
import { clock } from '../clock.js';
import { checkKnownOptions } from '../options-check.js';
import {
  type Engine, type EngineHandlers, type EngineRecords, type HistoryPolicy, type HistoryResult, type PresenceEntry,
  type Publication, type PublishOptions, type PublishResult, type StreamPosition,
} from './engine.js';
import { decideAcknowledgement, type AcknowledgedState, type Acknowledgement } from './acknowledgements.js';

interface Stored extends Publication {
  expires: number;
}

/** A channel's history before its first kept publication: shared, so an idle channel holds no array. */
const NO_ENTRIES: Stored[] = Object.freeze([]) as unknown as Stored[];

/** Times (`expires`, `lastUsed`) are on `clock()`: small integers, not a heap number each. */
interface ChannelState {
  offset: number;
  epoch: string;
  entries: Stored[];
  /** Index of the first live entry in `entries` (entries before it were dropped). */
  head: number;
  lastUsed: number;
}

/**
 * The embedded engine: positions and history in this process's memory. Every epoch starts with this
 * engine's random id, so a restart (a new engine) changes every channel's epoch. A channel's state is
 * dropped once it has no history left and has been idle for `idleTtl`; it then comes back with a new
 * epoch, which tells clients their old positions cannot be recovered.
 */
export class MemoryEngine implements Engine {
  private readonly channels = new Map<string, ChannelState>();
  /** Idempotency keys: the position of the publish that claimed each, until `expires`. */
  private readonly published = new Map<string, { offset: number; epoch: string; expires: number }>();
  private readonly members = new Map<string, Map<string, PresenceEntry & { expires: number }>>();
  private readonly kept = new Map<string, { value: string; expires: number }>();
  /** Records (MQTT persistent sessions), each until its expiry: one process is one node. */
  readonly records: EngineRecords = {
    put: (key, value, ttl) => { this.kept.set(key, { value, expires: clock() + ttl }); },
    take: (key) => {
      const record = this.kept.get(key);
      this.kept.delete(key);
      return record !== undefined && record.expires > clock() ? record.value : null;
    },
    delete: (key) => { this.kept.delete(key); },
  };
  /** Acknowledgements by channel, then user. */
  private readonly acks = new Map<string, Map<string, StreamPosition>>();
  private deliver: (publication: Publication) => void = () => {};
  /** This node's id and its node-message handler, from `start`. */
  private node: string | null = null;
  private onMessage: ((message: string) => void) | null = null;
  private readonly id = randomBytes(6).toString('base64url');
  private epochs = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: { idleTtl?: number; sweepInterval?: number } = {}) {
    checkKnownOptions(options, ['idleTtl', 'sweepInterval'], 'new MemoryEngine()');
    this.sweeper = setInterval(() => this.sweep(), options.sweepInterval ?? 10_000);
    this.sweeper.unref();
  }

  start(handlers: EngineHandlers): void {
    this.deliver = handlers.deliver;
    this.node = handlers.node;
    this.onMessage = handlers.message;
  }

  publish(channel: string, type: string, dataJson: string, policy: HistoryPolicy, options: PublishOptions = {}): PublishResult {
    const { idempotencyKey, idempotencyTtl } = options;
    const now = clock();
    if (idempotencyKey !== undefined) {
      if (!(typeof idempotencyTtl === 'number' && idempotencyTtl >= 1)) {
        throw new TypeError('livehub: publish with an idempotencyKey needs idempotencyTtl, a number of milliseconds >= 1');
      }
      const done = this.published.get(idempotencyKey);
      if (done && done.expires > now) return { offset: done.offset, epoch: done.epoch, duplicate: true };
    }
    const state = this.state(channel, now);
    const offset = ++state.offset;
    const publication: Stored = { channel, offset, epoch: state.epoch, type, data: dataJson, expires: 0 };
    // Copied: the caller's objects may change after the publish; the stored publication may not.
    if (options.tags !== undefined) publication.tags = { ...options.tags };
    if (options.from !== undefined) publication.from = { ...options.from };
    if (options.trace !== undefined) publication.trace = { ...options.trace };
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a size of 0 stores and at once drops the entry; only memory differs
    if (policy.size > 0) {
      publication.expires = now + policy.ttl;
      if (state.entries === NO_ENTRIES) state.entries = [publication];
      else state.entries.push(publication);
      // Stryker disable next-line EqualityOperator: at exactly `size` live entries the new head is the old one
      if (state.entries.length - state.head > policy.size) state.head = state.entries.length - policy.size;
      this.compact(state);
    }
    // Claimed only now that the publish is done (nothing above can fail after the offset is taken).
    // Stryker disable next-line ConditionalExpression: a key of undefined is never looked up
    if (idempotencyKey !== undefined) this.published.set(idempotencyKey, { offset, epoch: state.epoch, expires: now + idempotencyTtl! });
    this.deliver(publication);
    return { offset, epoch: state.epoch };
  }

  subscribe(): void {}
  unsubscribe(): void {}
  /** One process is one node, and every publication is delivered to it: patterns need nothing more. */
  subscribePattern(): void {}
  unsubscribePattern(): void {}

  history(channel: string, since: StreamPosition | null): HistoryResult {
    const state = this.state(channel);
    const position = { offset: state.offset, epoch: state.epoch };
    if (!since || since.epoch !== state.epoch || since.offset > state.offset) {
      return { position, publications: [], recovered: false };
    }
    if (since.offset === state.offset) return { position, publications: [], recovered: true };
    this.expire(state);
    const first = state.entries[state.head];
    // Recoverable only if everything after `since` is still kept.
    if (!first || first.offset > since.offset + 1) return { position, publications: [], recovered: false };
    const from = state.head + (since.offset + 1 - first.offset);
    return { position, publications: state.entries.slice(from), recovered: true };
  }

  addPresence(channel: string, entry: PresenceEntry, ttl: number): boolean {
    let members = this.members.get(channel);
    if (!members) this.members.set(channel, (members = new Map()));
    const now = clock();
    // Stryker disable next-line ConditionalExpression: re-adding a known connection answers false through `known` anyway
    const first = ![...members.values()].some((m) => m.userId === entry.userId && m.clientId !== entry.clientId && m.expires > now);
    const known = members.has(entry.clientId);
    members.set(entry.clientId, { ...entry, expires: now + ttl });
    return first && !known;
  }

  removePresence(channel: string, clientId: string, userId: string): boolean {
    const members = this.members.get(channel);
    if (!members?.delete(clientId)) return false;
    // Stryker disable next-line ConditionalExpression: an empty map and no map answer alike; only memory differs
    if (members.size === 0) this.members.delete(channel);
    const now = clock();
    return ![...(members.values())].some((m) => m.userId === userId && m.expires > now);
  }

  presence(channel: string): PresenceEntry[] {
    const now = clock();
    // Stryker disable next-line ArrayDeclaration: whatever stands in for no members has no live `expires` and is filtered out
    return [...(this.members.get(channel)?.values() ?? [])]
      .filter((m) => m.expires > now)
      .map(({ expires: _expires, ...entry }) => entry);
  }

  sweepPresence(channel: string): string[] {
    const members = this.members.get(channel);
    if (!members) return [];
    const now = clock();
    const gone = new Set<string>();
    for (const [clientId, m] of members) {
      if (m.expires <= now) {
        members.delete(clientId);
        gone.add(m.userId);
      }
    }
    for (const m of members.values()) gone.delete(m.userId);
    // Stryker disable next-line ConditionalExpression: an empty map and no map answer alike; only memory differs
    if (members.size === 0) this.members.delete(channel);
    return [...gone];
  }

  acknowledge(user: string, channel: string, position: StreamPosition): Acknowledgement {
    const state = this.state(channel);
    const byUser = this.acks.get(channel);
    const answer = decideAcknowledgement({ offset: state.offset, epoch: state.epoch }, byUser?.get(user), position);
    if (answer.refused === undefined && (answer.moved || byUser?.get(user)?.epoch !== state.epoch)) {
      if (byUser === undefined) this.acks.set(channel, new Map([[user, { offset: answer.acknowledged, epoch: state.epoch }]]));
      else byUser.set(user, { offset: answer.acknowledged, epoch: state.epoch });
    }
    return answer;
  }

  acknowledged(user: string, channel: string): AcknowledgedState {
    const state = this.state(channel);
    const stored = this.acks.get(channel)?.get(user);
    return { head: { offset: state.offset, epoch: state.epoch }, acknowledged: stored?.epoch === state.epoch ? stored.offset : 0 };
  }

  /**
   * One process is one node: a message for this node, or for every node, comes back to it (in a
   * microtask, so a handler never runs inside the `send` that caused it); any other goes nowhere.
   */
  send(node: string | null, message: string): boolean {
    if (this.onMessage === null || (node !== null && node !== this.node)) return false;
    const handler = this.onMessage;
    queueMicrotask(() => { if (this.onMessage === handler) handler(message); });
    return true;
  }

  close(): void {
    clearInterval(this.sweeper);
    this.onMessage = null;
  }

  private state(channel: string, now = clock()): ChannelState {
    let state = this.channels.get(channel);
    if (!state) {
      // Stryker disable next-line UpdateOperator: counting down gives distinct epochs too
      state = { offset: 0, epoch: `${this.id}.${(++this.epochs).toString(36)}`, entries: NO_ENTRIES, head: 0, lastUsed: now };
      this.channels.set(channel, state);
    }
    state.lastUsed = now;
    return state;
  }

  private expire(state: ChannelState): void {
    const now = clock();
    while (state.head < state.entries.length && state.entries[state.head]!.expires <= now) state.head++;
    this.compact(state);
  }

  /** Drops the dead prefix once it is as long as the live part, so appends stay amortized O(1). */
  // Stryker disable next-line BlockStatement: not compacting changes memory, not answers
  private compact(state: ChannelState): void {
    // Stryker disable next-line all: when and whether the dead prefix is dropped changes memory, not answers (the slice itself is tested)
    if (state.head > 32 && state.head * 2 >= state.entries.length) {
      state.entries = state.entries.slice(state.head);
      state.head = 0;
    }
  }

  private sweep(): void {
    const now = clock();
    const idle = this.options.idleTtl ?? 5 * 60_000;
    for (const [channel, state] of this.channels) {
      this.expire(state);
      if (state.head >= state.entries.length && now - state.lastUsed > idle && !this.acks.has(channel)) this.channels.delete(channel);
    }
    // Stryker disable next-line ConditionalExpression,EqualityOperator: keeping an expired key changes memory only; a key at exactly its expiry is no longer honoured by publish either
    for (const [key, done] of this.published) if (done.expires <= now) this.published.delete(key);
    for (const [key, record] of this.kept) if (record.expires <= now) this.kept.delete(key);
  }
}

/** Compile-time check that MemoryEngine is an Engine. */
export const memoryEngineConforms: new () => Engine = MemoryEngine;
