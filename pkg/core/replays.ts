/**
 * The replays a session has on their way to its peer, so that its slow-consumer limits count only
 * live traffic. A replay (a subscribe's recovery from history) is as large as the history the client
 * asked for, possibly thousands of messages sent at once: held to `sendBuffer` and
 * `maxBufferedBytes`, it would close a client for asking to recover, not for reading slowly. It is
 * bounded instead by the channel's history size, and by one replay per channel: a channel's earlier
 * replay, or one of a channel the client has left, counts as live again.
 *
 * Bytes are placed by their end in the session's stream of bytes (every byte it ever queued, in
 * order). Frames go to the transport in that order, and the transport's own buffer holds the last of
 * what it was given, so what has left it is `handed - writableLength`.
 */
interface Replay {
  channel: string;
  /** Where its bytes end in the session's stream. */
  end: number;
  bytes: number;
  messages: number;
  /** The channel's latest replay: earlier ones no longer count as one. */
  latest: boolean;
}

/** What of a session's backlog is replays: messages still in its queue, bytes not yet sent. */
export interface ReplayBacklog {
  messages: number;
  bytes: number;
}

export const NO_REPLAYS: ReplayBacklog = { messages: 0, bytes: 0 };

export class Replays {
  private list: Replay[] = [];

  /** A replay of `channel` was queued, ending at `end` in the session's stream. */
  add(channel: string, end: number, bytes: number, messages: number): void {
    for (const replay of this.list) if (replay.channel === channel) replay.latest = false;
    this.list.push({ channel, end, bytes, messages, latest: true });
  }

  /**
   * The replays' part of the backlog: of those still counting as replays (the latest of a channel
   * the session is still in), the messages not yet handed to the transport (`handed`: where the
   * queue begins in the stream) and the bytes not yet sent (`sent`: what has left the transport).
   * Replays wholly sent are forgotten; true once none is left.
   */
  backlog(handed: number, sent: number, channels: ReadonlySet<string>, into: ReplayBacklog): boolean {
    let kept = 0;
    for (const replay of this.list) {
      if (replay.end <= sent) continue;
      this.list[kept++] = replay;
      if (!replay.latest || !channels.has(replay.channel)) continue;
      into.bytes += Math.min(replay.bytes, replay.end - sent);
      if (replay.end > handed) into.messages += replay.messages;
    }
    this.list.length = kept;
    return kept === 0;
  }
}
