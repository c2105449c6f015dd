/**
 * QoS 1 subscriptions that fell behind their device. A device has at most its receive maximum of
 * deliveries unacknowledged, and up to the hub's `sendBuffer` more wait for room; when a channel's
 * messages would make more wait, its subscription stops taking live messages and catches up from the
 * channel's history instead. As PUBACKs make room, it reads the messages after the last one it
 * handed on (a history read with `since`), as many as fit, until it stands at the channel's newest
 * message and takes live messages again. Nothing more is held for it meanwhile: a device that
 * acknowledges slowly costs `sendBuffer` messages however fast its channels are published, and gets
 * every message the channel's history still holds, once and in order. When history no longer holds
 * what it missed (it fell further behind than history keeps), the subscription goes on from the
 * newest message, and that is logged (`mqtt_qos1_gap`), as a resumed session's gap is.
 */
import type { HubMessage, StreamPosition } from '../../protocol/index.js';
import type { HistoryOptions, Reporter } from '../index.js';
import { historyParts } from './format.js';
import type { Outbound } from './outbound.js';
import type { MqttVersion, PublishParts } from './packets.js';
import type { MqttSessionState, Subscription } from './sessions.js';

const EMPTY = Buffer.alloc(0);
/** After a failed history read, the next try (unless PUBACKs make room sooner). */
const RETRY_AFTER_MS = 1000;

/** What a connection's catching up needs of it. */
export interface CatchUpContext {
  readonly clientId: string;
  readonly version: MqttVersion;
  readonly reporter: Reporter;
  /** Deliveries that may wait beyond the receive maximum (the hub's `sendBuffer`). */
  readonly sendBuffer: number;
  readonly state: MqttSessionState;
  readonly outbound: Outbound;
  /** The hub's history read (`host.history`). */
  history(channel: string, options: HistoryOptions): Promise<{ position: StreamPosition; messages: HubMessage[]; complete: boolean }>;
  /** A message read from history as the session gets it (the hub's outgoing hook), or null when dropped for it. */
  outgoing(message: HubMessage): HubMessage | null;
  /** Sends deliveries made outside the hub's fan-out, in order (write-order.ts). */
  send(bytes: Buffer): void;
  /** True once the connection closes: nothing more is read or sent. */
  ending(): boolean;
}

/** A subscription catching up, and the offset of the newest live message it let pass. */
interface Behind {
  subscription: Subscription;
  top: number;
}

export class CatchUp {
  private readonly behind = new Map<string, Behind>();
  private reading = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly context: CatchUpContext) {}

  /** Whether a channel's subscription is catching up from history. */
  catchingUp(channel: string): boolean {
    return this.behind.has(channel);
  }

  /**
   * A turn's QoS 1 messages of a subscribed channel (`last`: the offset of the turn's last one): the
   * packets to send now. What does not fit under `sendBuffer` is read from history later.
   */
  live(channel: string, subscription: Subscription, parts: readonly PublishParts[], last: number): Buffer {
    const behind = this.behind.get(channel);
    if (behind !== undefined) {
      if (behind.subscription === subscription) {
        behind.top = last;
        return EMPTY;
      }
      this.behind.delete(channel); // subscribed again since: a new subscription
    }
    const { offset } = subscription;
    // A history read can run ahead of this node's fan-out (with Redis): what it handed on goes out once.
    const fresh = offset !== undefined && parts.length > 0 && parts[0]!.offset! <= offset ? parts.filter((p) => p.offset! > offset) : parts;
    const room = this.context.outbound.room(this.context.sendBuffer);
    if (fresh.length <= room || subscription.epoch === undefined) {
      if (offset === undefined || last > offset) subscription.offset = last;
      return this.context.outbound.offer(fresh);
    }
    const taken = fresh.slice(0, room);
    if (taken.length > 0) subscription.offset = taken[taken.length - 1]!.offset;
    this.behind.set(channel, { subscription, top: last });
    const { clientId, sendBuffer, outbound } = this.context;
    this.context.reporter.report('info', 'mqtt_catching_up',
      `livehub: MQTT client ${JSON.stringify(clientId)} has more than sendBuffer (${sendBuffer}) QoS 1 messages of ${JSON.stringify(channel)} waiting beyond its receive maximum (${outbound.receiveMaximum}); it catches up from the channel's history as it acknowledges them, instead of the hub holding more for it`,
      undefined, 'mqtt_catching_up');
    return outbound.offer(taken);
  }

  /** PUBACKs made room: the next subscription behind reads what fits, once half of `sendBuffer` is free. */
  room(): void {
    const { context } = this;
    if (this.reading || this.behind.size === 0 || context.ending() || context.outbound.waiting > context.sendBuffer / 2) return;
    const [channel, behind] = this.behind.entries().next().value as [string, Behind];
    // Channels take turns: this one goes to the back.
    this.behind.delete(channel);
    const { subscription } = behind;
    const { offset, epoch } = subscription;
    if (context.state.subscriptions.get(channel) !== subscription || offset === undefined || epoch === undefined) return this.room();
    this.behind.set(channel, behind);
    const limit = context.outbound.room(context.sendBuffer);
    this.reading = true;
    context.history(channel, { since: { offset, epoch }, limit }).then(
      (result) => {
        this.reading = false;
        this.read(channel, behind, offset, limit, result);
      },
      (error: unknown) => {
        this.reading = false;
        if (context.ending()) return;
        context.reporter.report('warn', 'mqtt_catch_up_failed',
          `livehub: MQTT client ${JSON.stringify(context.clientId)} is catching up on ${JSON.stringify(channel)}, but its history could not be read (${error instanceof Error ? error.message : String(error)}); it tries again in ${RETRY_AFTER_MS / 1000} s`,
          undefined, 'mqtt_catch_up_failed');
        this.retry ??= setTimeout(() => { this.retry = null; this.room(); }, RETRY_AFTER_MS);
        this.retry.unref();
      });
  }

  /** The connection closed: no more reads. */
  stop(): void {
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    this.behind.clear();
  }

  /** A history read came back: what it holds goes out, and the subscription takes live messages again once it caught up. */
  private read(channel: string, behind: Behind, from: number, limit: number, result: { position: StreamPosition; messages: HubMessage[]; complete: boolean }): void {
    const { context } = this;
    const { subscription } = behind;
    if (context.ending()) return;
    // Unsubscribed meanwhile: nothing to catch up. Moved by a reset of the stream: read again from there.
    if (context.state.subscriptions.get(channel) !== subscription) {
      if (this.behind.get(channel) === behind) this.behind.delete(channel);
      return this.room();
    }
    if (this.behind.get(channel) !== behind || subscription.offset !== from) return this.room();
    if (!result.complete) {
      this.behind.delete(channel);
      subscription.offset = result.position.offset;
      subscription.epoch = result.position.epoch;
      context.reporter.report('warn', 'mqtt_qos1_gap',
        `livehub: MQTT client ${JSON.stringify(context.clientId)} fell further behind on ${JSON.stringify(channel)} than the channel's history keeps (it acknowledged QoS 1 deliveries slower than they were published); the messages in between were not delivered to it, and it continues from the newest: raise the hub's history size or ttl for this channel, or its maxInflight, if devices are this slow`,
        undefined, 'mqtt_qos1_gap');
      return this.room();
    }
    const { messages, position } = result;
    const newest = messages.length > 0 ? messages[messages.length - 1]!.offset ?? from : from;
    // Fewer than asked: these are all there is after `from`, up to the channel's position.
    subscription.offset = messages.length < limit ? Math.max(newest, position.offset) : newest;
    if (messages.length < limit && behind.top <= subscription.offset) this.behind.delete(channel);
    const parts = historyParts(channel, messages.map(context.outgoing).filter((m): m is HubMessage => m !== null), context.version);
    if (parts.length > 0) context.send(context.outbound.offer(parts));
    this.room();
  }
}
