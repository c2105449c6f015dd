import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * A hub speaking exactly the protocol of the Go hub livehub began as, written for the tests: it
 * selects no WebSocket subprotocol, takes `{"type":"subscribe"|"unsubscribe","channel":C}` (and
 * ignores anything else), sends messages as `{"channel","type","data"}` with no id, offset or reply
 * of any kind, and writes the messages queued for a client in one frame, separated by `\n`.
 */
export interface OriginalHub {
  url: string;
  /** Frames each client sent, as text, by connection. */
  received: string[][];
  /** Queues a message for the channel's subscribers ("*": every client); `flush` writes the queues. */
  publish(channel: string, type: string, data: unknown): void;
  /** Writes every client's queued messages, several in one frame joined by `\n`. */
  flush(): void;
  /** Drops every connection without a close frame. */
  dropAll(): void;
  subscribers(channel: string): number;
  close(): Promise<void>;
}

export async function startOriginalHub(): Promise<OriginalHub> {
  const server: Server = createServer();
  const wss = new WebSocketServer({ server, path: '/ws', handleProtocols: () => false });
  const clients = new Map<WebSocket, { channels: Set<string>; queue: string[]; frames: string[] }>();
  const received: string[][] = [];
  wss.on('connection', (ws) => {
    const state = { channels: new Set<string>(), queue: [] as string[], frames: [] as string[] };
    clients.set(ws, state);
    received.push(state.frames);
    ws.on('message', (raw) => {
      const text = raw.toString();
      state.frames.push(text);
      let message: { type?: unknown; channel?: unknown };
      try { message = JSON.parse(text); } catch { return; }
      if (typeof message.channel !== 'string') return;
      if (message.type === 'subscribe') state.channels.add(message.channel);
      if (message.type === 'unsubscribe') state.channels.delete(message.channel);
    });
    ws.on('close', () => clients.delete(ws));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    received,
    publish(channel, type, data) {
      const frame = JSON.stringify({ channel, type, data });
      for (const state of clients.values()) if (channel === '*' || state.channels.has(channel)) state.queue.push(frame);
    },
    flush() {
      for (const [ws, state] of clients) {
        if (state.queue.length > 0) ws.send(state.queue.splice(0).join('\n'));
      }
    },
    dropAll() {
      for (const ws of clients.keys()) ws.terminate();
    },
    subscribers(channel) {
      return [...clients.values()].filter((state) => state.channels.has(channel)).length;
    },
    close: () => new Promise<void>((resolve) => {
      for (const ws of clients.keys()) ws.terminate();
      wss.close();
      server.close(() => resolve());
    }),
  };
}
