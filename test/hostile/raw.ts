import { connect, type Socket } from 'node:net';

/**
 * A raw WebSocket peer of our own over `net`, for saying what no well-behaved client says: arbitrary
 * upgrade requests, unmasked or reserved frames, bad UTF-8, fragments, floods.
 */

export interface RawFrame {
  opcode: number;
  payload: Buffer | string;
  fin?: boolean;
  /** Mask the payload (clients must). @default true */
  mask?: boolean;
  /** RSV1-3 bits, as a number 0-7. @default 0 */
  rsv?: number;
}

export function encodeClientFrame({ opcode, payload, fin = true, mask = true, rsv = 0 }: RawFrame): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const n = data.length;
  const ext = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const out = Buffer.alloc(2 + ext + (mask ? 4 : 0) + n);
  out[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | opcode;
  out[1] = (mask ? 0x80 : 0) | (n < 126 ? n : n < 65536 ? 126 : 127);
  if (ext === 2) out.writeUInt16BE(n, 2);
  if (ext === 8) out.writeBigUInt64BE(BigInt(n), 2);
  let at = 2 + ext;
  if (mask) {
    const key = [0x12, 0x34, 0x56, 0x78];
    out.set(key, at);
    at += 4;
    for (let i = 0; i < n; i++) out[at + i] = data[i]! ^ key[i % 4]!;
  } else data.copy(out, at);
  return out;
}

export interface ServerFrame { opcode: number; payload: Buffer }

export class RawPeer {
  readonly frames: ServerFrame[] = [];
  status = 0;
  response = '';
  ended = false;
  private buffer = Buffer.alloc(0);
  private upgraded = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('close', () => { this.ended = true; });
    socket.on('error', () => {});
  }

  /** Connects and sends `request` (a whole HTTP request head, or a function of the host). */
  static async connect(port: number): Promise<RawPeer> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    return new RawPeer(socket);
  }

  /** A normal upgrade request for `path`, with extra or replaced headers. */
  static request(path = '/ws', headers: Record<string, string | null> = {}, method = 'GET'): string {
    const base: Record<string, string | null> = {
      Host: '127.0.0.1', Upgrade: 'websocket', Connection: 'Upgrade',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Protocol': 'livehub.v1', ...headers,
    };
    const lines = Object.entries(base).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}`);
    return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
  }

  /** Opens a WebSocket: connects, upgrades, and checks for 101. */
  static async open(port: number, path = '/ws', headers: Record<string, string | null> = {}): Promise<RawPeer> {
    const peer = await RawPeer.connect(port);
    peer.socket.write(RawPeer.request(path, headers));
    const status = await peer.waitStatus();
    if (status !== 101) throw new Error(`upgrade answered ${status}`);
    return peer;
  }

  async waitStatus(timeout = 5000): Promise<number> {
    await until(() => this.status !== 0 || this.ended, timeout);
    return this.status;
  }

  send(frame: RawFrame): void {
    this.socket.write(encodeClientFrame(frame));
  }

  text(value: string | object): void {
    this.send({ opcode: 1, payload: typeof value === 'string' ? value : JSON.stringify(value) });
  }

  /** The close code the server sent, once it has (null if the socket ended without one). */
  async closeCode(timeout = 5000): Promise<number | null> {
    await until(() => this.ended || this.frames.some((f) => f.opcode === 8), timeout);
    const close = this.frames.find((f) => f.opcode === 8);
    return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : null;
  }

  /** JSON text frames received so far. */
  messages(): any[] {
    return this.frames.filter((f) => f.opcode === 1).map((f) => JSON.parse(f.payload.toString('utf8')));
  }

  async next(match: (m: any) => boolean, timeout = 5000): Promise<any> {
    await until(() => this.messages().some(match) || this.ended, timeout);
    const found = this.messages().find(match);
    if (!found) throw new Error(`no matching message; have ${JSON.stringify(this.messages()).slice(0, 300)}`);
    return found;
  }

  /**
   * A sentinel on this connection: a ping without an id, and its pong awaited. The hub answers in
   * order, so whatever it sent before reading the ping has arrived by now.
   */
  async sync(timeout = 5000): Promise<void> {
    const pongs = () => this.messages().filter((m) => m.type === 'pong' && m.id === undefined).length;
    const before = pongs();
    this.text({ type: 'ping' });
    await until(() => pongs() > before || this.ended, timeout);
    if (pongs() <= before) throw new Error('no pong to the sentinel ping');
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.upgraded) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.response = this.buffer.subarray(0, end).toString('latin1');
      this.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(this.response)?.[1] ?? 0);
      this.buffer = this.buffer.subarray(end + 4);
      this.upgraded = this.status === 101;
      if (!this.upgraded) return;
    }
    for (;;) {
      if (this.buffer.length < 2) return;
      let length = this.buffer[1]! & 0x7f;
      let at = 2;
      if (length === 126) { if (this.buffer.length < 4) return; length = this.buffer.readUInt16BE(2); at = 4; }
      else if (length === 127) { if (this.buffer.length < 10) return; length = Number(this.buffer.readBigUInt64BE(2)); at = 10; }
      if (this.buffer.length < at + length) return;
      this.frames.push({ opcode: this.buffer[0]! & 0x0f, payload: Buffer.from(this.buffer.subarray(at, at + length)) });
      this.buffer = this.buffer.subarray(at + length);
    }
  }
}

export async function until(condition: () => boolean, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}
