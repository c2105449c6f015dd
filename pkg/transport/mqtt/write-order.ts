/**
 * Keeps what one MQTT connection sends in order. Most of it goes through the hub's session: the
 * fan-out's deliveries and the replies, which the session queues and writes when the socket takes
 * them. Some is made outside it: QoS 1 deliveries that waited for a PUBACK, those a resumed session
 * sends again, retained messages. Those are written at once when the session has nothing queued, and
 * otherwise follow what it queued: in the next frames it is handed, or in the write of its last
 * queued ones.
 */
export class WriteOrder {
  /** Bytes handed to the session's queue that it has not written yet. */
  private unsent = 0;
  /** Bytes made outside the session that wait for those. */
  private following: Buffer[] | null = null;

  constructor(private readonly write: (bytes: Buffer) => void) {}

  /** Frames handed to the session to queue: after what waited for the session's queue. */
  queued(frames: Buffer): Buffer {
    if (this.following !== null) {
      frames = Buffer.concat([...this.following, frames]);
      this.following = null;
    }
    this.unsent += frames.length;
    return frames;
  }

  /** The bytes of one write of the session's queued frames: with what waited for them, once all are written. */
  written(chunks: readonly Buffer[]): Buffer {
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.length;
    this.unsent = Math.max(0, this.unsent - bytes);
    if (this.unsent === 0 && this.following !== null) {
      chunks = [...chunks, ...this.following];
      this.following = null;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  /** Bytes made outside the session: written now, or after the frames the session queued. */
  send(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.unsent === 0 && this.following === null) this.write(bytes);
    else (this.following ??= []).push(bytes);
  }
}
