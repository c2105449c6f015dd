import type { ServerResponse } from 'node:http';
import type { Transport, TransportEvents, WireFormat } from '../index.js';
import { formatResumeId, type StreamPosition } from '../../protocol/index.js';
import type { SseShared } from './format.js';

/**
 * One Server-Sent Events stream as a transport: a streaming HTTP response. Every message event
 * carries an `id:` with the stream's position in each of its channels (the resume id,
 * pkg/protocol/resume-id.ts), which the browser sends back as `Last-Event-ID` when it reconnects.
 * The id moves only with what the stream has delivered, so a reconnect at any byte resumes from
 * what the reader has: a resumed channel stays in it at its resume point until its replay comes.
 * A stream cannot answer pings, so the hub's ping is a comment line, and a reader that stops reading
 * is found by the session's queue caps (and `writeWait`), as on WebSocket. What shows the client that
 * an idle stream is alive is the hub's heartbeat, an event like a reply (`heartbeatPeriod`):
 * EventSource hides comments from scripts.
 */
export class SseTransport implements Transport<SseShared> {
  readonly name = 'sse';
  private events: TransportEvents | null = null;
  private ended = false;
  /** Where the stream stands in each channel, in subscription order: the resume id's source. */
  readonly positions = new Map<string, StreamPosition>();

  constructor(readonly response: ServerResponse, readonly format: WireFormat<SseShared>) {}

  /**
   * Starts the stream at the positions it resumes from (its `Last-Event-ID`), before their
   * subscribes are answered: its ids name every resumed channel from the first one on, so a
   * reconnect before a channel's replay comes resumes that channel from the same point again.
   */
  resumeFrom(positions: ReadonlyMap<string, StreamPosition>): void {
    for (const [channel, { offset, epoch }] of positions) this.positions.set(channel, { offset, epoch });
  }

  bind(events: TransportEvents): void {
    this.events = events;
    this.response.on('close', () => {
      this.ended = true;
      events.closed();
    });
    this.response.on('error', (error) => events.failed(error));
  }

  get writable(): boolean {
    return !this.ended && !this.response.writableEnded && !this.response.destroyed;
  }

  get writableLength(): number {
    return this.response.writableLength;
  }

  frames(shared: SseShared, channel: string, offsets: readonly number[]): Buffer {
    const position = this.positions.get(channel);
    if (!position) return Buffer.concat(shared.parts.flatMap((part) => [part, Buffer.from('\n')]));
    if (this.positions.size === 1) {
      // In this channel only: the same bytes as every other such stream this turn.
      position.offset = offsets[offsets.length - 1]!;
      if (shared.single?.epoch !== position.epoch) shared.single = { epoch: position.epoch, bytes: this.build(shared, channel, offsets, '', '', position.epoch) };
      return shared.single.bytes;
    }
    // Only this channel's offset moves within the batch: the rest of the id is made once.
    let before = '';
    let after = '';
    let seen = false;
    for (const [name, { offset, epoch }] of this.positions) {
      if (name === channel) { seen = true; continue; }
      const triple = `${name} ${offset} ${epoch}`;
      if (seen) after += ` ${triple}`;
      else before += `${triple} `;
    }
    position.offset = offsets[offsets.length - 1]!;
    return this.build(shared, channel, offsets, before, after, position.epoch);
  }

  /** Each message's part followed by its id line: the stream's positions with this channel at the message. */
  private build(shared: SseShared, channel: string, offsets: readonly number[], before: string, after: string, epoch: string): Buffer {
    const chunks: Buffer[] = [];
    for (let i = 0; i < shared.parts.length; i++) {
      chunks.push(shared.parts[i]!, Buffer.from(`id: ${before}${channel} ${offsets[i]!} ${epoch}${after}\n\n`));
    }
    return Buffer.concat(chunks);
  }

  replyFrames(reply: { type: string; channel?: string; offset?: number; epoch?: string; recovered?: boolean }, json: string): Buffer {
    const { channel } = reply;
    if (channel !== undefined) {
      if ((reply.type === 'subscribed' || reply.type === 'reset') && reply.offset !== undefined && reply.epoch !== undefined) {
        this.positions.set(channel, { offset: reply.offset, epoch: reply.epoch });
        // A recovered answer's position is the end of the replay that follows it, not yet delivered:
        // its id stays where it was, and each replayed message moves it (a reconnect before them
        // resumes from where the reader is). The replay follows at once, before any other frame, so
        // the position kept here reaches other channels' ids only once the replay is out.
        if (reply.recovered === true) return this.format.encodeReply(json);
        // Otherwise what follows comes after this position: it goes out with the reply, so a
        // reconnect before the next message resumes here.
        return Buffer.concat([this.format.encodeReply(json).subarray(0, -1), Buffer.from(`id: ${formatResumeId(this.positions)}\n\n`)]);
      }
      if (reply.type === 'unsubscribed') {
        this.positions.delete(channel);
        return Buffer.concat([this.format.encodeReply(json).subarray(0, -1), Buffer.from(`id: ${formatResumeId(this.positions)}\n\n`)]);
      }
    }
    return this.format.encodeReply(json);
  }

  write(chunks: readonly Buffer[]): void {
    this.response.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  }

  onceDrain(listener: () => void): void {
    this.response.once('drain', listener);
  }

  offDrain(listener: () => void): void {
    this.response.removeListener('drain', listener);
  }

  /**
   * The hub's ping, every `pingPeriod`: a comment line, which keeps proxies from closing a stream the
   * heartbeat does not reach (heartbeats off). The stream counts as alive while it takes writes.
   */
  ping(): void {
    if (!this.writable) return;
    this.response.write(':\n\n');
    this.events?.alive();
  }

  /** Ends the stream with a last `livehub` event saying why (code and reason), as a WebSocket close frame would. */
  close(code: number, reason: string): void {
    if (!this.writable) return;
    this.response.end(this.format.encodeReply(JSON.stringify({ type: 'close', code, reason })), () => this.response.socket?.destroy());
  }

  terminate(): void {
    this.ended = true;
    this.response.socket?.destroy();
    this.response.destroy();
  }
}
