/**
 * One tRPC subscription as a hub session: a transport (livehub/transport) whose wire is a queue the
 * subscription's async generator reads. The session gets what a WebSocket connection gets (the
 * channel policy on its subscribe, history recovery, filters, the batched fan-out, the slow-consumer
 * caps, which see the queue's bytes as the transport's buffer); the generator turns its frames into
 * the subscription's events.
 */
import type { HubMessage } from '../protocol/index.js';
import type { Transport, TransportEvents, WireFormat } from '../transport/index.js';

/** What the session wrote, one item a line: a hub message or a reply, or the close of the session. */
export type StreamItem =
  | { kind: 'message'; message: HubMessage }
  | { kind: 'reply'; reply: { type: string; [key: string]: unknown } }
  | { kind: 'close'; code: number; reason: string };

const MESSAGE = 0x6d; // 'm'

/** Messages are `m<hub message JSON>\n`, replies `r<reply JSON>\n`: one encoding for every subscription. */
export const trpcFormat: WireFormat<Buffer> = {
  name: 'trpc',
  encodeMessages(_channel, _offsets, payloads) {
    let text = '';
    for (const payload of payloads) text += `m${payload}\n`;
    return Buffer.from(text);
  },
  encodeReply: (json) => Buffer.from(`r${json}\n`),
};

export class SubscriptionStream implements Transport<Buffer> {
  readonly name = 'trpc';
  readonly format = trpcFormat;
  events: TransportEvents | null = null;
  private readonly items: Array<{ item: StreamItem; bytes: number }> = [];
  private queued = 0;
  private ended = false;
  private wake: (() => void) | null = null;
  private stopped = false;

  get writable(): boolean {
    return !this.ended;
  }

  /** Bytes written and not yet read by the subscription: the session's backpressure signal. */
  get writableLength(): number {
    return this.queued;
  }

  frames(shared: Buffer): Buffer {
    return shared;
  }

  write(chunks: readonly Buffer[]): void {
    if (this.ended) return;
    for (const chunk of chunks) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.length === 0) continue;
        const json = JSON.parse(line.slice(1)) as Record<string, unknown>;
        const item: StreamItem = line.charCodeAt(0) === MESSAGE
          ? { kind: 'message', message: json as unknown as HubMessage }
          : { kind: 'reply', reply: json as StreamItem & { type: string } };
        this.push(item, line.length);
      }
    }
  }

  /** The next item, or null once `stop()` was called; waits while there is none. */
  async next(): Promise<StreamItem | null> {
    while (this.items.length === 0) {
      if (this.stopped) return null;
      await new Promise<void>((resolve) => { this.wake = resolve; });
      this.wake = null;
    }
    const { item, bytes } = this.items.shift()!;
    this.queued -= bytes;
    if (this.queued === 0) this.drained();
    return item;
  }

  /** The subscription's client went away: `next` answers null from now on. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private readonly drainListeners = new Set<() => void>();

  onceDrain(listener: () => void): void {
    this.drainListeners.add(listener);
  }

  offDrain(listener: () => void): void {
    this.drainListeners.delete(listener);
  }

  private drained(): void {
    const listeners = [...this.drainListeners];
    this.drainListeners.clear();
    for (const listener of listeners) listener();
  }

  /** The hub's ping: the subscription cannot answer one, and the HTTP stream's own pings are tRPC's. */
  ping(): void {
    this.events?.alive();
  }

  /** The hub closed the session (a drain, `disconnectUser`, an expired identity, a slow reader): the subscription ends with it. */
  close(code: number, reason: string): void {
    this.end(code, reason);
  }

  terminate(): void {
    this.end(1006, 'terminated');
  }

  /** Ends the stream from the subscription's side (it ended, or its client went away). */
  finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.events?.closed(1000, 'subscription ended');
  }

  private end(code: number, reason: string): void {
    if (this.ended) return;
    this.push({ kind: 'close', code, reason }, 0);
    this.ended = true;
    const { events } = this;
    queueMicrotask(() => events?.closed(code, reason));
  }

  private push(item: StreamItem, bytes: number): void {
    this.items.push({ item, bytes });
    this.queued += bytes;
    this.wake?.();
  }
}
