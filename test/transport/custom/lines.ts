/**
 * A transport written the way an app would write its own, from the public imports alone: newline-
 * delimited JSON over plain TCP. The first line a client sends is its handshake, `{"token": …}`; the
 * gate sees it as the request's `Authorization` header. Every later line is a livehub command, and
 * every message and reply comes back as one line.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { isRefusal, type Transport, type TransportEndpoint, type TransportEvents, type TransportHost, type WireFormat } from 'livehub/transport';

const NEWLINE = Buffer.from('\n');

/** Messages and replies as lines; a turn's messages of a channel are encoded once for every line client. */
export const linesFormat: WireFormat<Buffer> = {
  name: 'lines',
  encodeMessages: (_channel, _offsets, payloads) => Buffer.from(`${payloads.join('\n')}\n`),
  encodeReply: (json) => Buffer.concat([Buffer.from(json), NEWLINE]),
};

/** One connection's writer. */
class LineConnection implements Transport<Buffer> {
  readonly name = 'lines';
  readonly format = linesFormat;

  constructor(private readonly socket: Socket) {}

  get writable(): boolean { return this.socket.writable; }
  get writableLength(): number { return this.socket.writableLength; }
  frames(shared: Buffer): Buffer { return shared; }
  write(chunks: readonly Buffer[]): void { this.socket.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)); }
  onceDrain(listener: () => void): void { this.socket.once('drain', listener); }
  offDrain(listener: () => void): void { this.socket.off('drain', listener); }
  ping(): void { this.socket.write('{"type":"ping"}\n'); }
  close(code: number, reason: string): void { this.socket.end(`${JSON.stringify({ type: 'close', code, reason })}\n`); }
  terminate(): void { this.socket.destroy(); }
}

/** The endpoint: a TCP server on 127.0.0.1, port 0, started by the hub. */
export class LinesEndpoint implements TransportEndpoint {
  readonly name = 'lines';
  private server: Server | null = null;
  private host!: TransportHost;

  start(host: TransportHost): Promise<void> {
    this.host = host;
    this.server = createServer((socket) => this.accept(socket));
    return new Promise((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  private accept(socket: Socket): void {
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    let buffered = '';
    let session: TransportEvents | null | 'pending' = null;
    const lines: string[] = [];
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let at: number;
      while ((at = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, at);
        buffered = buffered.slice(at + 1);
        if (session === null) {
          session = 'pending';
          this.handshake(socket, line).then((opened) => {
            session = opened;
            for (const waiting of lines.splice(0)) opened?.receive(waiting);
          });
        } else if (session === 'pending') lines.push(line);
        else session.receive(line);
      }
    });
    socket.on('close', () => { if (session !== null && session !== 'pending') session.closed(); });
  }

  /** Admits the connection through the hub's gate and opens its session, or answers the refusal. */
  private async handshake(socket: Socket, line: string): Promise<TransportEvents | null> {
    let token = '';
    try {
      token = String((JSON.parse(line) as { token?: unknown }).token ?? '');
    } catch {
      socket.end('{"type":"error","code":"bad_json","message":"the first line is the handshake: {\\"token\\": …}"}\n');
      return null;
    }
    const request = { headers: token ? { authorization: `Bearer ${token}` } : {}, url: '/', method: 'CONNECT', socket };
    const verdict = await this.host.admit(request, socket);
    if (isRefusal(verdict)) {
      socket.end(`${JSON.stringify({ type: 'refused', status: verdict.status, code: verdict.code })}\n`);
      return null;
    }
    const session = this.host.open(new LineConnection(socket), this.host.requestInfo(request), verdict.identity);
    socket.write(`${JSON.stringify({ type: 'welcome', id: session.id })}\n`);
    return session;
  }
}

/** A line client for the tests: what it got, and a way to wait for a line. */
export class LineClient {
  readonly lines: any[] = [];
  readonly socket: Socket;
  private buffered = '';
  private waiters: Array<() => void> = [];

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let at: number;
      while ((at = this.buffered.indexOf('\n')) >= 0) {
        this.lines.push(JSON.parse(this.buffered.slice(0, at)));
        this.buffered = this.buffered.slice(at + 1);
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('close', () => { for (const wake of this.waiters.splice(0)) wake(); });
  }

  send(value: unknown): void {
    this.socket.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
  }

  /** The first line (after those already taken) that matches, polled as lines arrive. */
  async next(match: (line: any) => boolean, timeout = 5000): Promise<any> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const found = this.lines.find(match);
      if (found) return found;
      if (this.socket.destroyed || Date.now() > deadline) throw new Error(`no matching line; got ${JSON.stringify(this.lines)}`);
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 50); });
    }
  }
}
