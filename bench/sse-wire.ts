import { connect, type Socket } from 'node:net';

/**
 * A minimal Server-Sent Events client for the Node load generator (bench/sse.c is the C one): a raw
 * `net` socket, `GET /events?channel=…`, HTTP/1.1 chunked decoding when the response uses it, and a
 * streaming event parser that hands each event's data to the sink. An event is livehub's own (the
 * stream token, "subscribed" and other replies) when it is named `livehub`, or unnamed with a reply
 * as data (`{"type":…`); every other event with data is a hub message.
 */
export interface EventSink {
  onEvent(livehub: boolean, data: string): void;
  onClose(): void;
}

export class EventStreamConnection {
  socket!: Socket;
  private opened = false;
  private head = '';
  private chunked = false;
  private chunkState: 'size' | 'ext' | 'data' | 'end' | 'done' = 'size';
  private chunkLeft = 0;
  private line = '';
  private event: string | null = null;
  private data: string | null = null;

  constructor(private readonly sink: EventSink) {}

  /** Resolves once the server answered 200; rejects with its status line otherwise. */
  open(port: number, path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, noDelay: true });
      this.socket = socket;
      socket.once('error', reject);
      socket.once('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`));
      socket.on('data', (chunk: Buffer) => {
        if (this.opened) return this.body(chunk);
        this.head += chunk.toString('latin1');
        const end = this.head.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!this.head.startsWith('HTTP/1.1 200')) return reject(new Error(this.head.split('\r\n')[0]));
        this.opened = true;
        this.chunked = /\r\ntransfer-encoding: *chunked/i.test(this.head.slice(0, end + 2));
        socket.removeListener('error', reject);
        socket.on('error', () => {});
        const rest = Buffer.from(this.head.slice(end + 4), 'latin1');
        this.head = '';
        resolve();
        if (rest.length) this.body(rest);
      });
      socket.on('close', () => this.sink.onClose());
    });
  }

  /** Undoes the chunked framing; malformed framing destroys the socket. */
  private body(chunk: Buffer): void {
    if (!this.chunked) return this.text(chunk.toString('utf8'));
    let i = 0;
    while (i < chunk.length) {
      if (this.chunkState === 'data') {
        const take = Math.min(this.chunkLeft, chunk.length - i);
        this.text(chunk.toString('utf8', i, i + take));
        i += take;
        this.chunkLeft -= take;
        if (this.chunkLeft === 0) this.chunkState = 'end';
        continue;
      }
      const b = chunk[i++]!;
      if (this.chunkState === 'size') {
        const digit = parseInt(String.fromCharCode(b), 16);
        if (!Number.isNaN(digit)) this.chunkLeft = this.chunkLeft * 16 + digit;
        else if (b === 0x3b) this.chunkState = 'ext';
        else if (b === 0x0a) this.chunkState = this.chunkLeft ? 'data' : 'done';
        else if (b !== 0x0d) return void this.socket.destroy(new Error('malformed chunked encoding'));
      } else if (this.chunkState === 'ext') {
        if (b === 0x0a) this.chunkState = this.chunkLeft ? 'data' : 'done';
      } else if (this.chunkState === 'end') {
        if (b === 0x0a) this.chunkState = 'size';
        else if (b !== 0x0d) return void this.socket.destroy(new Error('malformed chunked encoding'));
      } else return; // done: trailers
    }
  }

  /** Event-stream text: whole lines go to `field`. (A chunk boundary inside a UTF-8 sequence is not expected here: the bench's data is ASCII.) */
  private text(text: string): void {
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const line = this.line + text.slice(start, nl);
      this.line = '';
      this.field(line.endsWith('\r') ? line.slice(0, -1) : line);
      start = nl + 1;
    }
    this.line += text.slice(start);
  }

  private field(line: string): void {
    if (line === '') {
      if (this.data !== null) {
        const livehub = this.event !== null ? this.event === 'livehub' : this.data.startsWith('{"type":');
        this.sink.onEvent(livehub, this.data);
      }
      this.event = this.data = null;
      return;
    }
    if (line.startsWith(':')) return; // a comment: the heartbeat
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'event') this.event = value;
    else if (name === 'data') this.data = this.data === null ? value : `${this.data}\n${value}`;
  }
}
