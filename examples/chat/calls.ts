import type { Express, Request } from 'express';
import type { Hub } from 'livehub';
import type { Engine } from 'livehub/engine';
import { webrtcSignalling, type WebrtcSignallingOptions } from 'livehub/webrtc';
import { fail } from './auth.js';
import { recentMessages } from './history.js';
import { isValidName } from './messages.js';
import { callPage, type Assets } from './pages.js';
import { PAGE_MESSAGES } from './timing.js';

/**
 * The call page, `GET /call?room=<name>`: the room's peers see and hear each other peer to peer and
 * chat over their data channels (signalled through the hub: livehub/webrtc), with the room's own
 * livehub chat beside the call, kept in the channel `room-chat:<name>` with its history.
 */

const PREFIX = 'room-chat:';
/** The messages a room's chat keeps in its history. */
export const ROOM_HISTORY = PAGE_MESSAGES;

/** The channel of a room's chat (`room-chat:<room>`). */
export const roomChat = (room: string) => `${PREFIX}${room}`;
/** Whether `channel` is a room's chat. */
export const isRoomChat = (channel: string) => channel.startsWith(PREFIX) && isValidName(channel.slice(PREFIX.length));

export interface CallsOptions {
  jwt: boolean;
  engine: Engine;
  assets: Assets;
  userOf: (req: Request) => Promise<{ userId: string } | null>;
  /** Signalling options (`iceServers`, `turn`, limits); who may join follows the chat's mode. */
  signalling?: WebrtcSignallingOptions;
}

export function mountCalls(app: Express, hub: Hub, options: CallsOptions) {
  const { jwt, engine, assets, userOf } = options;
  // Rooms are open to every page in open mode, to logged-in users in JWT mode; names follow the chat's rule.
  const signalling = webrtcSignalling(hub, {
    authorize: (room, ctx) => isValidName(room) && (!jwt || ctx.userId !== null),
    ...options.signalling,
  });

  app.get('/call', async (req, res) => {
    const room = req.query.room;
    if (room === undefined) return res.redirect(302, '/call?room=lobby');
    if (!isValidName(room)) return fail(res, 400, 'invalid_room', 'room: 1-40 letters, digits, "_", "." or "-", starting with a letter or digit');
    const user = await userOf(req);
    if (jwt && !user) return fail(res, 401, 'unauthorized', 'log in on / first: calls are for logged-in users');
    const channel = roomChat(room);
    let recent;
    try {
      recent = await recentMessages(engine, channel, PAGE_MESSAGES, ROOM_HISTORY);
    } catch (error) {
      return fail(res, 503, 'unavailable', `the room's messages cannot be read: ${(error as Error).message}`);
    }
    res.type('html').send(callPage(assets, { room, channel, mode: jwt ? 'jwt' : 'open', user: user?.userId ?? null, ...recent }));
  });

  return signalling;
}
