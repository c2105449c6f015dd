import { ErrorCode, withId, type ClientCommand, type ServerReply } from '../protocol/index.js';
import type { Command } from './loop.js';
import { isPresenceChannel, type Presence } from './presence.js';
import type { Publisher } from './publisher.js';
import type { Session } from './session.js';
import type { UserStreams } from './user-streams.js';

/** What the built-in commands need of the core; each only queues work for the loop or answers. */
export interface CommandHost {
  enqueue(command: Command): void;
  reply(session: Session, reply: ServerReply): void;
  readonly publisher: Publisher;
  readonly presence: Presence;
  readonly userStreams: UserStreams;
}

type Entry<T extends ClientCommand['type']> = {
  /** Whether the channel policy (`authorize`, `canPublish`) decides first. */
  readonly policy: boolean;
  run(host: CommandHost, session: Session, command: Extract<ClientCommand, { type: T }>): void;
};

/** Answers a presence request on a channel the session is not in with `forbidden`; true when it may go on. */
function inPresence(host: CommandHost, session: Session, command: { channel: string; id?: ClientCommand['id'] }): boolean {
  if (isPresenceChannel(command.channel) && session.presence?.has(command.channel)) return true;
  host.reply(session, withId({ type: 'error', code: ErrorCode.Forbidden, channel: command.channel, message: `subscribe to ${command.channel} first` }, command.id));
  return false;
}

/**
 * The built-in commands, by type: the one table the router dispatches a parsed command from (after
 * the middleware chain, and the channel policy where `policy` says so).
 */
export const BUILT_IN: { readonly [T in ClientCommand['type']]: Entry<T> } = {
  subscribe: {
    policy: true,
    run: (host, session, { channel, id, since, filter }) => host.enqueue({ kind: 'subscribe', session, channel, id, since, ...(filter ? { filter } : {}) }),
  },
  unsubscribe: {
    policy: false,
    run: (host, session, { channel, id }) => host.enqueue({ kind: 'unsubscribe', session, channel, id }),
  },
  publish: {
    policy: true,
    run: (host, session, command) => host.publisher.fromClient(session, command, (to, reply) => host.reply(to, reply)),
  },
  ping: {
    policy: false,
    run: (host, session, { id }) => host.reply(session, withId({ type: 'pong' }, id)),
  },
  presence: {
    policy: false,
    run: (host, session, command) => { if (inPresence(host, session, command)) host.presence.list(session, command.channel, command.id); },
  },
  status: {
    policy: false,
    run: (host, session, command) => { if (inPresence(host, session, command)) host.presence.status(session, command.channel, command.status, command.id); },
  },
  acknowledge: {
    policy: false,
    run: (host, session, command) => host.userStreams.acknowledge(session, command),
  },
  unread: {
    policy: false,
    run: (host, session, { id }) => host.userStreams.unread(session, id),
  },
};

/** Runs a built-in command that passed every check. */
export function runBuiltIn(host: CommandHost, session: Session, command: ClientCommand): void {
  (BUILT_IN[command.type].run as (host: CommandHost, session: Session, command: ClientCommand) => void)(host, session, command);
}
