import type { Engine, StreamPosition } from 'livehub/engine';
import { toChatMessage, type ChatMessage } from './messages.js';

/**
 * The chat's messages are its channel's history: one ordered list shared by every node (Redis) that
 * holds exactly what was published; a publish the engine refused is not in it.
 */

/**
 * The last `limit` messages (at most `kept`, the history size) and the position they end at: a page
 * showing them resumes from that position, so nothing falls between and nothing comes twice.
 */
export async function recentMessages(engine: Engine, channel: string, limit: number, kept: number): Promise<{ messages: ChatMessage[]; position: StreamPosition }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const { position } = await engine.history(channel, null);
    // Fewer may be left than the size says (expired by the TTL): ask for less until they are all there.
    for (let count = Math.min(limit, kept, position.offset); ; count = Math.floor(count / 2)) {
      const since = { offset: position.offset - count, epoch: position.epoch };
      const result = await engine.history(channel, since);
      if (result.position.epoch !== position.epoch) break; // the stream was reset meanwhile: read again
      if (result.recovered) {
        const messages: ChatMessage[] = [];
        for (const publication of result.publications) {
          const { type, data, offset, from } = publication;
          const message = toChatMessage({ type, data: JSON.parse(data), offset, ...(from ? { from } : {}) });
          if (message) messages.push(message);
        }
        return { messages: messages.slice(-limit), position: result.position };
      }
      if (count === 0) break;
    }
  }
  throw new Error(`the history of ${channel} kept resetting while it was read`);
}
