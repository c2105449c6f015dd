import { WebSocket } from 'ws';
import type { WebSocketConstructor } from '../../client/index.js';

/** A `ws` WebSocket that records the sockets opened and every frame sent, for counting subscribes. */
export function countingWebSocket() {
  const sent: Array<{ type: string; channel?: string; [key: string]: unknown }> = [];
  const sockets: WebSocket[] = [];
  class CountingWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }

    override send(data: unknown, ...rest: unknown[]): void {
      sent.push(JSON.parse(String(data)));
      (super.send as (...args: unknown[]) => void)(data, ...rest);
    }
  }
  return {
    WebSocket: CountingWebSocket as unknown as WebSocketConstructor,
    sockets,
    sent,
    /** The frames of one type (on one channel). */
    frames: (type: string, channel?: string) => sent.filter((f) => f.type === type && (channel === undefined || f.channel === channel)),
  };
}
