/**
 * Chat messages, as the server and the page both read them. No server-only imports: the page uses
 * this file too.
 */

export interface ChatMessage {
  id: string;
  /** Who wrote it, from the server: the stamped publisher, or the server's own `author`. */
  author: string;
  body: string;
  /** Its position in the chat channel's stream (messages are shown in this order). */
  offset: number;
}

/**
 * User names: what a channel name may hold (so the personal channel `user:<name>` is valid) minus the
 * separators `: / # @`, starting with a letter or a digit, 1 to 40 characters.
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;
export const NAME_RULE = 'a name is 1-40 letters, digits, "_", "." or "-", starting with a letter or digit';

export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && NAME_PATTERN.test(name);
}

export const MAX_BODY = 2000;

/** The `{id, body}` of a message publish, or null when it is not a valid one. */
export function parseMessage(data: unknown): { id: string; body: string } | null {
  if (data === null || typeof data !== 'object') return null;
  const { id, body } = data as Record<string, unknown>;
  if (typeof id !== 'string' || !/^[\w-]{8,64}$/.test(id)) return null;
  if (typeof body !== 'string' || body.length > MAX_BODY || !body.trim()) return null;
  return { id, body: body.trim() };
}

/** A message of the chat channel as delivered (`{data, offset, from}`). */
export interface ChannelMessage {
  type?: string;
  data: unknown;
  offset?: number;
  from?: { user?: string; client: string };
}

/**
 * The message as shown, or null for anything else on the channel. The author never comes from what a
 * client wrote about itself alone:
 * - a client's publish carries `from`, stamped by the server: `from.user` is the logged-in name (JWT
 *   mode); an anonymous connection (open mode) has no user, and its `author` was checked by the
 *   server's `authorize` against the name that connection declared when it connected;
 * - without `from`, the server published it itself (`POST /messages`) and set `author`.
 */
export function toChatMessage(message: ChannelMessage): ChatMessage | null {
  if (message.type !== undefined && message.type !== 'message') return null;
  const parsed = parseMessage(message.data);
  if (!parsed) return null;
  const author = message.from?.user ?? (message.data as { author?: unknown }).author;
  if (!isValidName(author)) return null;
  return { id: parsed.id, author, body: parsed.body, offset: message.offset ?? 0 };
}
