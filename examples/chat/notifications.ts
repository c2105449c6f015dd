import type { Express, Request, Response } from 'express';
import { HandlerError, userChannel, type Hub, type Identity } from 'livehub';
import { fail } from './auth.js';
import { mentionsIn } from './notification-items.js';
import { isValidName } from './messages.js';

/**
 * The chat's notifications, built on the acknowledged user stream (docs/guide/durable-streams.md):
 * - a chat message that mentions `@name` sends that user a `notification` on their stream
 *   (`user:<name>`); with the PostgreSQL engine it is kept across restarts;
 * - the bell's count is the stream's unread count (its head minus the user's acknowledgement), the
 *   same on every device of the user, and pushed to all of them when it moves;
 * - `notification_read`: the page acknowledges the stream up to a notification (that one and every
 *   older one are read: an acknowledgement is a position), or up to the head ("mark all read");
 * - `notification_deleted`: the `notification:delete` handler appends `notification_deleted {offset}`
 *   to the stream, so every device (now, or later from history) hides it, and acknowledges the stream
 *   up to and including that deletion: deleting is done from the open list, so it reads what the list
 *   shows, and a deletion never counts as unread itself.
 */

/** How many notifications the bell shows (from the stream's history). */
export const SHOWN_NOTIFICATIONS = 50;

export function mountNotifications(app: Express, hub: Hub, options: { userOf: (req: Request) => Promise<Identity | null> }): { mentioned(message: { id: string; author: string; body: string }): void } {
  // Deleting a notification: hidden on every device, and the stream read up to the deletion.
  hub.handle('notification:delete', async ({ data }, ctx) => {
    if (!ctx.userId) throw new HandlerError('unauthorized', 'log in first');
    const offset = (data as { offset?: unknown } | null)?.offset;
    if (!Number.isSafeInteger(offset) || (offset as number) < 1) throw new HandlerError('invalid_notification', 'offset must be the position of a notification (a whole number >= 1)');
    const deletion = await hub.publish(userChannel(ctx.userId), 'notification_deleted', { offset }, { idempotencyKey: `notification-deleted:${ctx.userId}:${String(offset)}` });
    const state = await hub.acknowledge(ctx.userId, { offset: deletion.offset, epoch: deletion.epoch });
    return { offset: deletion.offset, unread: state.unread };
  });

  // The bell's list: the user's recent stream (notifications and deletions) and where it stands.
  app.get('/notifications', async (req: Request, res: Response) => {
    const user = await options.userOf(req);
    if (!user) return fail(res, 401, 'unauthorized', 'log in first');
    try {
      const [{ messages, position }, state] = await Promise.all([hub.history(userChannel(user.userId), { limit: SHOWN_NOTIFICATIONS * 2 }), hub.unread(user.userId)]);
      res.json({ messages, position, acknowledged: state.acknowledged, unread: state.unread });
    } catch (error) {
      fail(res, 503, 'unavailable', `the notifications cannot be read: ${(error as Error).message}`);
    }
  });

  return {
    /** A chat message was published: each user it mentions (but its author) is notified, once per message. */
    mentioned(message) {
      for (const name of mentionsIn(message.body)) {
        if (name === message.author || !isValidName(name)) continue;
        hub.publish(userChannel(name), 'notification', { from: message.author, body: message.body.slice(0, 140) }, { idempotencyKey: `mention:${message.id}:${name}` })
          .catch(() => { /* logged by the hub; a lost notification is not worth failing the chat message */ });
      }
    },
  };
}
