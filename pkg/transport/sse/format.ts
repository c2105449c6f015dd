import type { WireFormat } from '../index.js';

/** A turn's messages of one channel, encoded once for every SSE stream: one part per message. */
export interface SseShared {
  parts: Buffer[];
  /**
   * The bytes of a stream in this one channel only, made once for every such stream: their ids are
   * the same (`channel offset epoch`), so they share the encoding as WebSocket sessions do.
   */
  single?: { epoch: string; bytes: Buffer };
}

/** The `event:` name of livehub's own events (replies, the session, a close). */
export const LIVEHUB_EVENT = 'livehub';

/**
 * The Server-Sent Events wire format. Each hub message is one event: `event:` is its type (in the
 * `named` format; the livehub client asks for unnamed events so that `onmessage` sees them all) and
 * `data:` the hub message JSON, as on WebSocket. JSON text never holds a raw CR or LF, so no payload
 * can inject a field or end an event early. Each stream adds its own `id:` line (see stream.ts).
 */
export function sseFormat(named: boolean): WireFormat<SseShared> {
  return {
    name: named ? 'sse' : 'sse-unnamed',
    encodeMessages(_channel, _offsets, payloads, types) {
      const parts = new Array<Buffer>(payloads.length);
      for (let i = 0; i < payloads.length; i++) {
        // Types are validated names: no CR or LF to end the line early.
        const event = named ? `event: ${types[i]}\n` : '';
        parts[i] = Buffer.from(`${event}data: ${payloads[i]}\n`);
      }
      return { parts };
    },
    // Named streams keep livehub's replies apart from the app's events; unnamed ones (the livehub
    // client) read them like WebSocket replies.
    encodeReply: named
      ? (json) => Buffer.from(`event: ${LIVEHUB_EVENT}\ndata: ${json}\n\n`)
      : (json) => Buffer.from(`data: ${json}\n\n`),
  };
}
