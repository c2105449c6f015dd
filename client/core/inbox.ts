import { ErrorCode, type HubMessage, type ServerReply, type StreamPosition } from '../../pkg/protocol/index.js';
import { checkKnownOptions } from '../../pkg/options-check.js';
import { LiveError } from '../errors.js';
import type { Listeners } from '../emitter.js';
import type { LiveClientEvents, LiveStatus, MessageHandler } from '../events.js';
import { ValueStore } from './store.js';

/**
 * The signed-in user's acknowledged stream (their personal channel `user:<id>`, what the server's
 * `hub.sendToUser` writes), seen from one client: its messages from the user's last acknowledgement
 * on (on any device), the unread count (the head minus the acknowledgement) kept current on every
 * device, and `acknowledge()`. See docs/guide/durable-streams.md.
 */

type UnreadFrame = Extract<ServerReply, { type: 'unread' }>;

/** What an inbox needs of its client (a `LiveClient`). */
export interface InboxClient {
  readonly status: LiveStatus;
  readonly events: Listeners<LiveClientEvents>;
  on<T>(channel: string, handler: MessageHandler<T>, options?: { since?: StreamPosition }): () => void;
  unread(): Promise<UnreadFrame>;
  acknowledge(channel: string, position: StreamPosition): Promise<UnreadFrame>;
}

/** Where the user's stream stands, as this client knows it. */
export interface InboxState {
  /** The user's personal channel; null until the server said it. */
  readonly channel: string | null;
  /** The stream's epoch; null until known. */
  readonly epoch: string | null;
  /** The stream's head: the offset of its newest message this client knows of. */
  readonly head: number;
  /** The offset the user acknowledged (on any device). */
  readonly acknowledged: number;
  /** `head - acknowledged`. */
  readonly unread: number;
  /** Why the stream is not available (an anonymous connection: `forbidden`; an engine without acknowledgements: `unsupported`), else null. */
  readonly error: LiveError | null;
}

export interface InboxOptions<T = unknown> {
  /** Called for each message of the stream, oldest first, from the acknowledgement on; may return a promise. */
  onMessage?: (data: T, message: HubMessage<T>) => unknown;
  /**
   * Acknowledges each message once `onMessage` has returned (or its promise resolved). A handler that
   * throws (or rejects) leaves its message unacknowledged and stops the automatic acknowledgements
   * (an acknowledgement is a position: a later one would cover the failed message) until
   * `acknowledge()` is called; the failure is in `error`. Off: call `acknowledge()` when the user has
   * seen them.
   * @default false
   */
  autoAcknowledge?: boolean;
}

export const NO_INBOX: InboxState = Object.freeze({ channel: null, epoch: null, head: 0, acknowledged: 0, unread: 0, error: null });

/** The client's inbox, made by `client.inbox(options)` (one per call; `close()` stops it). */
export class Inbox<T = unknown> extends ValueStore<InboxState> {
  private readonly stops: Array<() => void> = [];
  private stopListening: (() => void) | null = null;
  /** Messages run through `onMessage` one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  /** A handler failed: no automatic acknowledgement until `acknowledge()` is called. */
  private held = false;

  constructor(private readonly client: InboxClient, private readonly options: InboxOptions<T> = {}) {
    super(NO_INBOX);
    checkKnownOptions(options, ['onMessage', 'autoAcknowledge'], 'client.inbox()');
    if (options.onMessage !== undefined && typeof options.onMessage !== 'function') throw new TypeError('livehub: client.inbox({ onMessage }) must be a function');
    this.stops.push(
      client.events.on('open', () => this.ask()),
      client.events.on('reply', (reply) => { if (reply.type === 'unread' && reply.id === undefined) this.take(reply); }),
    );
    if (client.status === 'open') this.ask();
  }

  /**
   * Acknowledges the stream up to `offset` (default: the head this client knows): for the user, on
   * every device. Resolves once the server has it; an offset at or below the acknowledgement resolves
   * at once. Rejects with the server's code (`beyond_head`, `stale_epoch`, `unavailable`…).
   */
  async acknowledge(offset?: number): Promise<void> {
    const state = this.getSnapshot();
    const target = offset ?? state.head;
    if (!Number.isSafeInteger(target) || target < 0) throw new TypeError('livehub: inbox.acknowledge(offset) needs a whole number >= 0');
    if (state.channel === null || state.epoch === null) throw new LiveError('not_connected', 'the user stream is not known yet: wait until the inbox has a channel');
    this.held = false;
    if (target <= state.acknowledged) return;
    const answer = await this.client.acknowledge(state.channel, { offset: target, epoch: state.epoch });
    this.take(answer);
  }

  /** Stops listening (and the stream's subscription, if this inbox held it). */
  close(): void {
    this.closed = true;
    for (const stop of this.stops.splice(0)) stop();
    this.stopListening?.();
    this.stopListening = null;
  }

  /** Asks where the stream stands (on every open), then listens from the acknowledgement. */
  private ask(): void {
    this.client.unread().then((frame) => {
      if (this.closed) return;
      this.take(frame);
      if (this.stopListening === null) {
        this.stopListening = this.client.on<T>(frame.channel, (data, message) => this.received(data, message), { since: { offset: frame.acknowledged, epoch: frame.epoch } });
      }
    }, (error: unknown) => {
      if (this.closed || (error as LiveError)?.code === 'connection_lost') return;
      this.set({ ...this.getSnapshot(), error: error instanceof LiveError ? error : new LiveError('internal', String(error)) });
    });
  }

  /** Where the server says the stream stands: the acknowledgement and head only move forward within an epoch. */
  private take(frame: UnreadFrame): void {
    const state = this.getSnapshot();
    if (state.channel !== null && frame.channel !== state.channel) return;
    const same = state.epoch === frame.epoch;
    const head = same ? Math.max(state.head, frame.offset) : frame.offset;
    const acknowledged = same ? Math.max(state.acknowledged, frame.acknowledged) : frame.acknowledged;
    this.update({ channel: frame.channel, epoch: frame.epoch, head, acknowledged, error: null });
  }

  private received(data: T, message: HubMessage<T>): void {
    const state = this.getSnapshot();
    if (typeof message.offset === 'number' && message.offset > state.head) this.update({ ...state, head: message.offset });
    const { onMessage, autoAcknowledge } = this.options;
    this.queue = this.queue.then(async () => {
      if (this.closed) return;
      try {
        await onMessage?.(data, message);
      } catch (error) {
        this.held = true;
        this.set({ ...this.getSnapshot(), error: new LiveError(ErrorCode.HandlerFailed, `the inbox handler failed on offset ${String(message.offset)}: ${(error as Error)?.message ?? String(error)}; automatic acknowledgements stop until acknowledge() is called`, message.channel) });
        return;
      }
      if (autoAcknowledge === true && !this.held && typeof message.offset === 'number') {
        await this.client.acknowledge(message.channel, { offset: message.offset, epoch: this.getSnapshot().epoch ?? '' })
          .then((answer) => this.take(answer), (error: unknown) => { this.set({ ...this.getSnapshot(), error: error as LiveError }); });
      }
    });
  }

  private update(next: Omit<InboxState, 'unread'>): void {
    const state = this.getSnapshot();
    const unread = Math.max(0, next.head - next.acknowledged);
    if (state.channel === next.channel && state.epoch === next.epoch && state.head === next.head && state.acknowledged === next.acknowledged && state.error === next.error) return;
    this.set(Object.freeze({ ...next, unread }));
  }
}
