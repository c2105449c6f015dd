import type { AcknowledgedState, Acknowledgement, Engine, StreamPosition } from '../engine/engine.js';
import { ErrorCode, userChannel, withId, type ClientCommand, type RequestId, type ServerReply } from '../protocol/index.js';
import type { NodeMessage } from './node-messages.js';
import { LivehubError, type Reporter } from './report.js';
import type { Session } from './session.js';

/**
 * Acknowledged user streams: a user's personal channel `user:<id>` (what `hub.sendToUser` writes)
 * with one acknowledged position per user, kept by the engine (`Engine.acknowledge`), so every
 * device of the user shares it. The unread count is the head minus the acknowledgement. Connections
 * ask where their stream stands (`unread`) and acknowledge it (`acknowledge`, only their own); when
 * the acknowledgement moves, every connection of the user, on every node, gets the new `unread`
 * frame (through a node message to every node).
 */

/** Where a user's stream stands, as `hub.unread()` and `hub.acknowledge()` answer. */
export interface UnreadState {
  /** The user's personal channel. */
  channel: string;
  /** The stream's head: its last offset and epoch. */
  head: StreamPosition;
  /** The offset the user acknowledged, in `head.epoch`. */
  acknowledged: number;
  /** `head.offset - acknowledged`. */
  unread: number;
}

/** The node-message topic carrying a moved acknowledgement to every node. */
export const UNREAD_TOPIC = 'livehub:unread';

export interface UserStreamsHost {
  readonly engine: Engine;
  readonly reporter: Reporter;
  reply(session: Session, reply: ServerReply): void;
  /** This node's open sessions of a user. */
  sessionsOf(userId: string): Iterable<Session>;
  sendNodeMessage(node: string | null, message: NodeMessage): Promise<boolean>;
  onNodeMessage(topic: string, handler: (data: string) => void): void;
}

type UnreadFrame = Extract<ServerReply, { type: 'unread' }>;

/** The head minus the acknowledgement. */
function unreadOf(state: AcknowledgedState): number {
  return Math.max(0, state.head.offset - state.acknowledged);
}

function frameOf(channel: string, state: AcknowledgedState, id?: RequestId): UnreadFrame {
  return withId({ type: 'unread' as const, channel, offset: state.head.offset, epoch: state.head.epoch, acknowledged: state.acknowledged, unread: unreadOf(state) }, id);
}

export class UserStreams {
  constructor(private readonly host: UserStreamsHost) {
    host.onNodeMessage(UNREAD_TOPIC, (data) => this.pushed(data));
  }

  /** Whether the engine keeps acknowledgements. */
  get supported(): boolean {
    const { engine } = this.host;
    return typeof engine.acknowledge === 'function' && typeof engine.acknowledged === 'function';
  }

  /** `unread`: where the connection's own stream stands. */
  unread(session: Session, id: RequestId | undefined): void {
    const userId = this.ownUser(session, null, id);
    if (userId === null) return;
    const channel = userChannel(userId);
    this.run(session, id, channel, 'read', () => this.host.engine.acknowledged!(userId, channel), (state) => this.host.reply(session, frameOf(channel, state, id)));
  }

  /** `acknowledge`: the connection's own stream, up to a position. */
  acknowledge(session: Session, command: Extract<ClientCommand, { type: 'acknowledge' }>): void {
    const { channel, offset, epoch, id } = command;
    const userId = this.ownUser(session, channel, id);
    if (userId === null) return;
    this.run(session, id, channel, 'acknowledge', () => this.host.engine.acknowledge!(userId, channel, { offset, epoch }), (answer) => {
      if (answer.refused !== undefined) {
        const code = answer.refused === 'ahead' ? ErrorCode.BeyondHead : ErrorCode.StaleEpoch;
        const message = answer.refused === 'ahead'
          ? `offset ${offset} is past the head of ${channel} (${answer.head.offset}); nothing was acknowledged`
          : `epoch ${epoch} is not the epoch of ${channel} (${answer.head.epoch}): its history was lost; ask where it stands (unread) and acknowledge in its epoch`;
        this.host.reply(session, withId({ type: 'error', code, channel, message }, id));
        return;
      }
      this.host.reply(session, frameOf(channel, answer, id));
      if (answer.moved) this.announce(userId, channel, answer);
    });
  }

  /** `hub.unread(userId)`. */
  async state(userId: string): Promise<UnreadState> {
    const channel = this.checked(userId, 'hub.unread');
    const state = await this.host.engine.acknowledged!(userId, channel);
    return { channel, head: state.head, acknowledged: state.acknowledged, unread: unreadOf(state) };
  }

  /**
   * `hub.acknowledge(userId, position)`: acknowledges for the user (from a server-side action, such
   * as marking read from an email link); every connection of the user is told. Without a position,
   * up to the current head.
   */
  async acknowledgeFor(userId: string, position?: StreamPosition): Promise<UnreadState> {
    const channel = this.checked(userId, 'hub.acknowledge');
    if (position !== undefined && (position === null || typeof position !== 'object' || !Number.isSafeInteger(position.offset) || position.offset < 0 || typeof position.epoch !== 'string')) {
      throw new TypeError('livehub: hub.acknowledge(userId, position) needs position { offset: a whole number >= 0, epoch: a string }, or none for the head');
    }
    const engine = this.host.engine;
    const target = position ?? (await engine.acknowledged!(userId, channel)).head;
    const answer: Acknowledgement = await engine.acknowledge!(userId, channel, target);
    if (answer.refused !== undefined) {
      throw new LivehubError(answer.refused === 'ahead' ? ErrorCode.BeyondHead : ErrorCode.StaleEpoch,
        `livehub: cannot acknowledge ${channel} at ${target.offset} of epoch ${target.epoch}: ${answer.refused === 'ahead' ? `its head is ${answer.head.offset}` : `its epoch is ${answer.head.epoch}`}`);
    }
    if (answer.moved) this.announce(userId, channel, answer);
    return { channel, head: answer.head, acknowledged: answer.acknowledged, unread: unreadOf(answer) };
  }

  private checked(userId: string, where: string): string {
    if (typeof userId !== 'string' || userId === '') throw new TypeError(`livehub: ${where} needs a user id (a non-empty string)`);
    if (!this.supported) throw new LivehubError(ErrorCode.Unsupported, `livehub: ${where}: the hub's engine keeps no acknowledgements (it has no acknowledge()); use the memory, Redis or PostgreSQL engine`);
    return userChannel(userId);
  }

  /** The session's user when it may act on `channel` (its own stream); otherwise answers the refusal and returns null. */
  private ownUser(session: Session, channel: string | null, id: RequestId | undefined): string | null {
    const refuse = (code: ErrorCode, message: string) => {
      this.host.reply(session, withId({ type: 'error', code, message, ...(channel === null ? {} : { channel }) }, id));
      return null;
    };
    if (!this.supported) return refuse(ErrorCode.Unsupported, 'this hub\'s engine keeps no acknowledgements');
    const userId = session.identity?.userId;
    if (userId === undefined) return refuse(ErrorCode.Forbidden, 'only a signed-in user has a user stream to acknowledge');
    if (channel !== null && channel !== userChannel(userId)) {
      this.host.reporter.report('warn', 'acknowledge_refused', `livehub: refused an acknowledgement of ${channel} by user ${JSON.stringify(userId)} (${session.id}): a connection may acknowledge only its own user stream (${userChannel(userId)}); the client was answered 'forbidden'`, undefined, `acknowledge_refused:${userId}`);
      return refuse(ErrorCode.Forbidden, `a connection may acknowledge only its own user stream, ${userChannel(userId)}`);
    }
    return userId;
  }

  private run<T>(session: Session, id: RequestId | undefined, channel: string, what: string, task: () => T | Promise<T>, then: (value: T) => void): void {
    Promise.resolve().then(task).then(then, (error: unknown) => {
      const unavailable = (error as { code?: unknown } | null)?.code === ErrorCode.Unavailable;
      this.host.reporter.report('error', 'user_stream_failed', `livehub: ${what} of ${channel} failed: ${(error as Error)?.message ?? String(error)}; the client was answered '${unavailable ? 'unavailable' : 'internal'}'`, error, `user_stream_failed:${what}`);
      this.host.reply(session, withId({ type: 'error', code: unavailable ? ErrorCode.Unavailable : ErrorCode.Internal, channel, message: unavailable ? `the stream of ${channel} could not be reached; retry` : 'the server failed to handle this message' }, id));
    });
  }

  /** Tells every node (this one too) that the user's acknowledgement moved. */
  private announce(userId: string, channel: string, state: AcknowledgedState): void {
    const data = JSON.stringify({ userId, channel, head: state.head, acknowledged: state.acknowledged });
    this.host.sendNodeMessage(null, { kind: 'topic', topic: UNREAD_TOPIC, data }).catch((error: unknown) => {
      this.host.reporter.report('warn', 'unread_push_failed', `livehub: the new unread count of ${channel} could not be sent to the other nodes: ${(error as Error)?.message}; the user's other connections show the old count until they ask again`, error, 'unread_push_failed');
    });
  }

  /** A moved acknowledgement from any node: this node's connections of the user get the new frame. */
  private pushed(data: string): void {
    const { userId, channel, head, acknowledged } = JSON.parse(data) as { userId: string; channel: string; head: StreamPosition; acknowledged: number };
    const frame = frameOf(channel, { head, acknowledged });
    for (const session of this.host.sessionsOf(userId)) this.host.reply(session, frame);
  }
}
