import type { PublishResult, StreamPosition } from '../engine/engine.js';
import { clampCloseReason, ErrorCode, type HubMessage, type PresenceMember } from '../protocol/index.js';
import { messageOf } from './encode.js';
import { HubLoop } from './loop.js';
import type { NodeMessage } from './node-messages.js';
import { historyPolicy } from './history-policy.js';
import { memberCount } from './members.js';
import { userChannel } from './policy.js';
import { members, userSet } from './presence.js';
import { checkChannel, checkType, encodeData, type HubPublishOptions, type Publisher } from './publisher.js';
import { LivehubError } from './report.js';
import type { HistoryOptions } from './transport.js';


/** What `hub.info()` tells of this node. */
export interface HubInfo {
  /** This node's id: the first part of its connection ids. */
  node: string;
  /** Open connections, in all. */
  clients: number;
  /** Open connections by transport (`websocket`, `sse`, an app's own). */
  connections: Record<string, number>;
  /** Channels with subscribers on this node. */
  channels: number;
  /** Authenticated users with a connection to this node. */
  users: number;
  /** (connection, channel) pairs. */
  subscriptions: number;
  /** Milliseconds since the hub started. */
  uptime: number;
  /** Transport writes since the hub started (a batch of frames counts once). */
  writes: number;
  /** Frames (messages and replies) handed to transports. */
  frames: number;
  /** Bytes handed to transports. */
  bytes: number;
  /** Connections closed as slow consumers (4001). */
  evictions: number;
}

/**
 * The hub's server-side API: publishing, history and presence reads, user targeting and counts. The
 * Hub class (hub.ts) adds the transports, handlers and lifecycle on top.
 */
export abstract class HubApi extends HubLoop {
  protected abstract readonly publisher: Publisher;
  /** This node's id: the first part of its session ids and stream tokens. */
  abstract readonly node: string;
  /** Sends a node message through the engine: to one node, or to every node with `node` null (core.ts). */
  abstract sendNodeMessage(node: string | null, message: NodeMessage): Promise<boolean>;
  protected readonly startedAt = Date.now();

  /**
   * Publishes `{channel, type, data}` to the channel's subscribers (`"*"`: to every client). Safe from
   * any handler at any time; never blocks: the message is serialized now and fanned out on the turn
   * after the engine gave it its stream position.
   *
   * Resolves with that position once the message has it (so a handler that awaits it before answering
   * orders sequential requests, across nodes too). Rejects with an Error whose `code` is
   * `unavailable` (the engine could not be reached; nothing was published), `outcome_unknown` (the
   * publish was sent and no answer came: it may have been published; retry with the same
   * `idempotencyKey` and it is never published twice) or `closed` (the hub is closing). Awaiting is optional: a failure is logged either way, and a promise nobody awaits never
   * becomes an unhandled rejection. Throws a TypeError at once for an invalid channel or type, or
   * data that JSON cannot encode (BigInt, a cycle).
   */
  publish(channel: string, type: string, data?: unknown, options?: HubPublishOptions): Promise<PublishResult> {
    return this.publisher.publish(channel, type, data, options);
  }

  /** The channel's current stream position (for pages that resume from it, see livehub/inertia). */
  async position(channel: string): Promise<StreamPosition> {
    checkChannel(channel);
    return (await this.engine.history(channel, null)).position;
  }


  /**
   * The channel's last `limit` publications still in history (at most the channel's history size),
   * oldest first, with its current position. `complete` is false when history no longer holds all
   * of them (expired by `ttl`): then none are returned, never a partial range. With `since` (a
   * position a reader stands at), the first `limit` publications after it instead; `complete` is
   * false, and none are returned, when history no longer holds all of those (the reader fell behind
   * further than it keeps, or the channel's history was lost: its epoch changed).
   */
  async history(channel: string, options: HistoryOptions = {}): Promise<{ position: StreamPosition; messages: HubMessage[]; complete: boolean }> {
    checkChannel(channel);
    const { limit = 100, since } = options;
    if (!Number.isInteger(limit) || limit < 0) throw new TypeError('livehub: history limit must be a whole number');
    if (since !== undefined) {
      if (since === null || typeof since !== 'object' || !Number.isInteger(since.offset) || since.offset < 0 || typeof since.epoch !== 'string') {
        throw new TypeError('livehub: history since must be a stream position: { offset: a whole number, epoch: a string }');
      }
      const result = await this.engine.history(channel, { offset: since.offset, epoch: since.epoch });
      if (!result.recovered) return { position: result.position, messages: [], complete: false };
      return { position: result.position, messages: result.publications.slice(0, limit).map(messageOf), complete: true };
    }
    const { position } = await this.engine.history(channel, null);
    const wanted = Math.min(limit, historyPolicy(this.options, channel).size, position.offset);
    if (wanted === 0) return { position, messages: [], complete: true };
    const result = await this.engine.history(channel, { offset: position.offset - wanted, epoch: position.epoch });
    const messages = result.publications.map(messageOf);
    return { position: result.position, messages, complete: result.recovered };
  }

  /** The members of a presence channel, across every node sharing the engine. */
  async presenceOf(channel: string): Promise<PresenceMember[]> {
    checkChannel(channel);
    return members(await this.engine.presence(channel));
  }

  /** This node's channels with local subscribers, and how many each. */
  channelList(): Array<{ channel: string; subscribers: number }> {
    return [...this.channels].filter(([name]) => !name.startsWith('#')).map(([channel, members]) => ({ channel, subscribers: memberCount(members) }));
  }

  /** This node: its id, connections, channels, users, uptime and transport totals (`HubInfo`). */
  info(): HubInfo {
    return {
      node: this.node, clients: this.sessions.size, connections: Object.fromEntries(this.connectionCounts), channels: this.channels.size,
      users: this.users.size, subscriptions: this.subscriptionCount, uptime: Date.now() - this.startedAt, ...this.counters,
    };
  }

  /**
   * Closes every connection of a user with 4503 (terminal: the client does not reconnect), on every
   * node sharing the engine. Resolves once the command is out; rejects (code `unavailable`) if the
   * engine could not take it.
   */
  disconnectUser(userId: string, reason = 'disconnected by the server'): Promise<void> {
    if (typeof userId !== 'string' || !userId) throw new TypeError('livehub: userId must be a non-empty string');
    if (typeof reason !== 'string') throw new TypeError('livehub: reason must be a string');
    const sent = this.sendNodeMessage(null, { kind: 'disconnect-user', userId, reason: clampCloseReason(reason) })
      .then(() => {}, (error: unknown) => {
        const failure = new LivehubError(ErrorCode.Unavailable, `livehub: disconnectUser(${JSON.stringify(userId)}) failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        this.reporter.report('error', 'disconnect_failed', `${failure.message}; the user's connections stay open`, failure);
        throw failure;
      });
    sent.catch(() => {});
    return sent;
  }

  /** Whether the user has a live connection to any node sharing the engine. */
  async isUserConnected(userId: string): Promise<boolean> {
    return (await this.connectedClients(userId)).length > 0;
  }

  /** Ids of the user's live connections, on every node sharing the engine. */
  async connectedClients(userId: string): Promise<string[]> {
    return (await this.engine.presence(userSet(userId))).map((entry) => entry.clientId);
  }

  /** Publishes to the user's personal channel `user:<id>`, which each of their connections is in. */
  sendToUser(userId: string, type: string, data?: unknown): Promise<PublishResult> {
    return this.publish(userChannel(userId), type, data);
  }

  /** `sendToUser` for several users; resolves once every publish has. */
  sendToUsers(userIds: Iterable<string>, type: string, data?: unknown): Promise<PublishResult[]> {
    checkType(type);
    const dataJson = encodeData(data);
    const sent = Promise.all([...userIds].map((userId) => {
      const channel = userChannel(userId);
      checkChannel(channel);
      return this.publisher.publishJson(channel, type, dataJson);
    }));
    sent.catch(() => {});
    return sent;
  }
}
