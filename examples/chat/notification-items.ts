/**
 * Notifications as the server and the page both read them (no server-only imports: the page uses
 * this file too). A notification is a message of type `notification` on the user's stream (their
 * personal channel `user:<name>`); `notification_deleted` on the same stream hides one on every
 * device. Which are unread comes from the stream's acknowledgement, not from the items.
 */

export interface NotificationItem {
  /** Its position in the user's stream: read when at or below the acknowledgement. */
  offset: number;
  /** Who mentioned the user. */
  from: string;
  /** The start of the chat message that mentioned them. */
  body: string;
}

/** Names mentioned as `@name` in a chat message body, each once. */
export function mentionsIn(body: string): string[] {
  return [...new Set([...body.matchAll(/(?:^|[^A-Za-z0-9_.-])@([A-Za-z0-9][A-Za-z0-9_.-]{0,39})/g)].map((m) => m[1]!))];
}

/**
 * The notifications of a stream's messages, oldest first, without the deleted ones. Applies
 * `notification` and `notification_deleted` messages in any order, each once (by offset).
 */
export class NotificationList {
  private readonly items = new Map<number, NotificationItem>();
  private readonly deleted = new Set<number>();

  apply(message: { type?: string; data: unknown; offset?: number }): void {
    const data = message.data as Record<string, unknown> | null;
    if (typeof message.offset !== 'number' || data === null || typeof data !== 'object') return;
    if (message.type === 'notification' && typeof data.from === 'string' && typeof data.body === 'string') {
      this.items.set(message.offset, { offset: message.offset, from: data.from, body: data.body });
    } else if (message.type === 'notification_deleted' && typeof data.offset === 'number') {
      this.deleted.add(data.offset);
    }
  }

  /** The notifications shown, newest first. */
  shown(): NotificationItem[] {
    return [...this.items.values()].filter((item) => !this.deleted.has(item.offset)).sort((a, b) => b.offset - a.offset);
  }
}
