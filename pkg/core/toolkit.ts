import type { PublishResult } from '../engine/engine.js';
import { EVERYONE_CHANNEL, REPLY_TYPES, type ServerReply } from '../protocol/index.js';
import { deprecated } from './deprecated.js';
import type { Reporter } from './report.js';
import type { Toolkit } from './handlers.js';
import type { Command } from './loop.js';
import { checkChannel, checkType, encodeData, publisherOf, type Publisher } from './publisher.js';
import type { Session } from './session.js';


/** What a handler's toolkit needs of the hub. */
export interface ToolkitHost {
  readonly reporter: Reporter;
  enqueue(command: Command): void;
  readonly publisher: Publisher;
  reply(session: Session, reply: ServerReply): void;
  sendToUser(userId: string, type: string, data?: unknown): Promise<PublishResult>;
  publish(channel: string, type: string, data?: unknown): Promise<PublishResult>;
}

/** A handler's toolkit for one message of `session` (see handlers.ts; the router adds reply and fail). */
export function makeToolkit(session: Session, host: ToolkitHost): Omit<Toolkit, 'reply' | 'fail'> {
  return {
    join: async (room) => {
      checkChannel(room);
      host.enqueue({ kind: 'subscribe', session, channel: room });
    },
    leave: async (room) => {
      checkChannel(room);
      host.enqueue({ kind: 'unsubscribe', session, channel: room });
    },
    publish: (channel, type, data, options = {}) => {
      checkChannel(channel);
      checkType(type);
      return host.publisher.publishJson(channel, type, encodeData(data), { from: publisherOf(session, options.exceptSelf === true) });
    },
    send: (type, data) => {
      checkType(type);
      if (REPLY_TYPES.has(type)) throw new TypeError(`livehub: kit.send cannot use ${JSON.stringify(type)}: clients read it as a protocol reply; pick another type`);
      host.reply(session, { type, data: data === undefined ? null : data } as unknown as ServerReply);
    },
    sendToUser: (userId, type, data) => host.sendToUser(userId, type, data),
    broadcast: (type, data) => {
      deprecated(host.reporter, 'kit.broadcast(type, data)', "kit.publish('*', type, data)");
      return host.publish(EVERYONE_CHANNEL, type, data);
    },
  };
}
