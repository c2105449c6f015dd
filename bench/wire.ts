import { connect, type Socket } from 'node:net';

/**
 * A minimal WebSocket client for the load generator: raw `net` sockets, an HTTP upgrade, masked
 * client frames (zero key: valid, and free), and a streaming frame scanner that counts frames by
 * walking headers and keeps only the first bytes of each payload. Cheap enough to receive millions of
 * frames a second on one core, which a full client (ws, socket.io-client) is not.
 */

/** Microseconds on CLOCK_MONOTONIC: comparable across processes on one machine. */
export const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n);

export function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const n = payload.length;
  const header = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(header + 4 + n);
  out[0] = 0x81;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) { out[1] = 0x80 | 126; out.writeUInt16BE(n, 2); }
  else { out[1] = 0x80 | 127; out.writeBigUInt64BE(BigInt(n), 2); }
  out.writeUInt32BE(0, header); // masking key 0: payload bytes unchanged
  payload.copy(out, header + 4);
  return out;
}

function controlFrame(opcode: number, payload: Buffer): Buffer {
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length;
  payload.copy(out, 6);
  return out;
}

export interface FrameSink {
  /** A text frame ended; `prefix` holds up to `prefixBytes` of its payload. */
  onText(length: number, prefix: string): void;
  onClose(): void;
}

export class WireConnection {
  socket!: Socket;
  /** How many payload bytes of each frame to keep for `onText`. */
  prefixBytes = 2;
  private upgraded = false;
  private head = '';
  private hdr = Buffer.alloc(14);
  private hdrHave = 0;
  private remaining = 0;
  private inFrame = false;
  private opcode = 0;
  private length = 0;
  private parts: Buffer[] = [];
  private want = 0;

  constructor(private readonly sink: FrameSink) {}

  /** `subprotocol`: offered in `Sec-WebSocket-Protocol` (livehub answers "subscribed" only on `livehub.v1`). */
  open(port: number, path: string, subprotocol?: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, noDelay: true });
      this.socket = socket;
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
          (subprotocol ? `Sec-WebSocket-Protocol: ${subprotocol}\r\n` : '') + '\r\n');
      });
      socket.on('data', (chunk: Buffer) => {
        if (this.upgraded) return this.scan(chunk);
        this.head += chunk.toString('latin1');
        const end = this.head.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!this.head.startsWith('HTTP/1.1 101')) return reject(new Error(this.head.split('\r\n')[0]));
        this.upgraded = true;
        socket.removeListener('error', reject);
        socket.on('error', () => {});
        const rest = Buffer.from(this.head.slice(end + 4), 'latin1');
        this.head = '';
        resolve();
        if (rest.length) this.scan(rest);
      });
      socket.on('close', () => this.sink.onClose());
    });
  }

  send(text: string): void {
    this.socket.write(clientFrame(text));
  }

  private scan(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (!this.inFrame) {
        // Fast path: a whole header in this chunk.
        if (this.hdrHave === 0 && n - i >= 10) {
          const b1 = chunk[i + 1]! & 0x7f;
          this.opcode = chunk[i]! & 0x0f;
          if (b1 < 126) { this.length = b1; i += 2; }
          else if (b1 === 126) { this.length = chunk.readUInt16BE(i + 2); i += 4; }
          else { this.length = Number(chunk.readBigUInt64BE(i + 2)); i += 10; }
        } else {
          this.hdr[this.hdrHave++] = chunk[i++]!;
          if (this.hdrHave < 2) continue;
          const b1 = this.hdr[1]! & 0x7f;
          const need = b1 < 126 ? 2 : b1 === 126 ? 4 : 10;
          if (this.hdrHave < need) continue;
          this.opcode = this.hdr[0]! & 0x0f;
          this.length = b1 < 126 ? b1 : b1 === 126 ? this.hdr.readUInt16BE(2) : Number(this.hdr.readBigUInt64BE(2));
          this.hdrHave = 0;
        }
        this.inFrame = true;
        this.remaining = this.length;
        this.want = this.opcode >= 8 ? this.length : Math.min(this.length, this.prefixBytes);
        this.parts.length = 0;
        if (this.remaining === 0) this.endFrame();
        continue;
      }
      const take = Math.min(this.remaining, n - i);
      if (this.want > 0) {
        const keep = Math.min(take, this.want);
        this.parts.push(chunk.subarray(i, i + keep));
        this.want -= keep;
      }
      i += take;
      this.remaining -= take;
      if (this.remaining === 0) this.endFrame();
    }
  }

  private endFrame(): void {
    this.inFrame = false;
    const opcode = this.opcode;
    if (opcode === 0x1) {
      const prefix = this.parts.length === 1 ? this.parts[0]!.toString('latin1') : Buffer.concat(this.parts).toString('latin1');
      this.sink.onText(this.length, prefix);
    } else if (opcode === 0x9) {
      this.socket.write(controlFrame(0xa, Buffer.concat(this.parts)));
    } else if (opcode === 0x8) {
      this.socket.end();
    }
  }
}
