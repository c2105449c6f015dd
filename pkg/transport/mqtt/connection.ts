/**
 * One MQTT connection once its CONNECT was accepted: the `Transport` its livehub session writes
 * through, and the translation of the device's packets into livehub commands and of the hub's
 * replies into MQTT acknowledgements. A SUBSCRIBE is one `subscribe` per topic and one SUBACK
 * once all are answered; a PUBLISH is a `publish`, and a QoS 1 one gets its PUBACK when the hub acks
 * it, that is once the engine gave the message its position. Deliveries at QoS 1 carry a packet
 * identifier each, at most `receiveMaximum` unacknowledged at a time; up to the hub's `sendBuffer`
 * more wait here (outbound.ts), and a subscription whose messages would make more wait catches up
 * from the channel's history (catch-up.ts).
 */
import type { Duplex } from 'node:stream';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import type { HubMessage, StreamPosition } from '../../protocol/index.js';
import type { HistoryOptions, PublishAs, Reporter, Transport, TransportEvents } from '../index.js';
import { MqttBatch, mqttFormat } from './format.js';
import { publishCommand, sendRetained, type Will } from './metadata.js';
import { Outbound } from './outbound.js';
import { patternAnswered, PendingCommands, type Acknowledgement, type Pending } from './pending.js';
import { disconnectReason, puback, Reason, reasonOf, type MqttVersion } from './packets.js';
import type { MqttSessionState } from './sessions.js';
import { KeepaliveWatch } from './keepalive.js';
import { WriteOrder } from './write-order.js';
import { CatchUp } from './catch-up.js';

/** What a connection needs of its endpoint. */
export interface ConnectionContext {
  readonly reporter: Reporter;
  /** The type of messages a device publishes (unless an MQTT 5 user property `type` names one). */
  readonly type: string;
  /** QoS 1 messages a device may have waiting beyond its receive maximum (the hub's sendBuffer). */
  readonly sendBuffer: number;
  /** The longest a session is kept after its device went away, in seconds. */
  readonly sessionExpiry: number;
  /** The hub's publish on behalf of a connection (`host.publish`): for last wills. */
  publish(channel: string, type: string, dataJson: string, as: PublishAs): Promise<StreamPosition>;
  /** True once the hub drains or closes (`host.closing`). */
  closing(): boolean;
  /** The hub's history read (`host.history`): for retained messages, and subscriptions catching up. */
  history(channel: string, options: HistoryOptions): Promise<{ position: StreamPosition; messages: HubMessage[]; complete: boolean }>;
  /** A message read from history as a session gets it (`host.outgoing`: the hub's outgoing hook), or null. */
  outgoing(session: TransportEvents, message: HubMessage): HubMessage | null;
}

const EMPTY = Buffer.alloc(0);

export class MqttConnection implements Transport<MqttBatch> {
  readonly name = 'mqtt';
  readonly format = mqttFormat;
  /** The session, once the hub opened it. */
  events: TransportEvents | null = null;
  private readonly commands = new PendingCommands();
  /**
   * Seconds the session is kept once the connection closes (0: it ends with the connection). An
   * MQTT 5 DISCONNECT may change it.
   */
  keepFor = 0;
  /** Set when another connection took this one's session over: this one no longer keeps it. */
  private released = false;
  /** The device's last will, until it is published or the device disconnects cleanly. */
  will: Will | null = null;
  private readonly outbound: Outbound;
  private readonly order: WriteOrder;
  private readonly catchUp: CatchUp;
  private lastPacket = Date.now();
  /** Whether a PUBACK was read since the read's end (read without `packet`). */
  private acknowledging = false;
  private keepaliveWatch: KeepaliveWatch | null = null;
  private ending = false;

  constructor(
    readonly socket: Duplex,
    readonly version: MqttVersion,
    readonly clientId: string,
    private readonly keepalive: number,
    receiveMaximum: number,
    private readonly context: ConnectionContext,
    /** Subscriptions, stream positions and unacknowledged deliveries: kept across connections in a persistent session. */
    readonly state: MqttSessionState,
  ) {
    this.order = new WriteOrder((bytes) => this.socket.write(bytes));
    const send = (bytes: Buffer) => { if (!this.ending) this.order.send(bytes); };
    this.outbound = new Outbound(state, version, receiveMaximum, send);
    this.catchUp = new CatchUp({
      clientId, version, reporter: context.reporter, sendBuffer: context.sendBuffer, state, outbound: this.outbound, send,
      history: context.history, outgoing: this.outgoing, ending: () => this.ending,
    });
    if (keepalive > 0) {
      this.keepaliveWatch = new KeepaliveWatch(keepalive, () => this.lastPacket, () => {
        this.context.reporter.report('info', 'mqtt_keepalive', `livehub: MQTT client ${JSON.stringify(this.clientId)} sent nothing for 1.5 times its keepalive (${keepalive} s); the connection was closed`);
        this.disconnect(Reason.KeepAliveTimeout, 'keepalive timeout');
      });
    }
  }

  // Transport: what the session asks of its connection.

  get writable(): boolean { return !this.ending && this.socket.writable; }
  get writableLength(): number { return this.socket.writableLength; }

  frames(batch: MqttBatch, channel: string, offsets: readonly number[]): Buffer {
    // A closing connection hands nothing on, and its session's positions stay where the device is:
    // what comes after them is replayed from history if the session is resumed.
    if (this.ending || offsets.length === 0) return EMPTY;
    const subscription = this.state.subscriptions.get(channel);
    const last = offsets[offsets.length - 1]!;
    if (this.state.qosOf(channel, subscription) === 0) {
      if (subscription !== undefined) subscription.offset = last;
      return this.order.queued(batch.shared(this.version));
    }
    // A subscription catches up from history rather than have more wait; a pattern's (live only) cannot.
    const out = subscription !== undefined ? this.catchUp.live(channel, subscription, batch.qos1(this.version), last) : this.outbound.offer(batch.qos1(this.version));
    if (this.outbound.waiting > this.context.sendBuffer) {
      const why = `more than sendBuffer (${this.context.sendBuffer}) QoS 1 messages waited beyond its receive maximum (${this.outbound.receiveMaximum}) unacknowledged`;
      this.warn('mqtt_slow_consumer', `livehub: MQTT client ${JSON.stringify(this.clientId)} was closed as a slow consumer: ${why}`);
      setImmediate(() => this.close(4001, why));
    }
    return this.order.queued(out);
  }

  replyFrames(reply: { type: string; channel?: string; offset?: number; epoch?: string }, _json: string): Buffer {
    return this.order.queued(this.reply(reply));
  }

  private reply(reply: { type: string; channel?: string; offset?: number; epoch?: string }): Buffer {
    // A connection whose session another took over answers nothing more, and leaves the session alone.
    if (this.released) return EMPTY;
    const { id, code, message } = reply as { id?: number; code?: string; message?: string };
    const pending = this.commands.take(id);
    if (pending === undefined) {
      if (reply.type === 'reset' && reply.channel !== undefined) this.state.positioned(reply.channel, reply);
      else if (reply.type === 'error') setImmediate(() => this.refused(code ?? 'internal', message ?? 'refused'));
      return EMPTY;
    }
    const ok = reply.type !== 'error';
    switch (pending.kind) {
      case 'subscribe':
        if (ok || code === 'already_subscribed') this.state.subscribed(pending.channel, pending.qos, reply);
        // MQTT 5 retain handling: 0 sends the retained message on every SUBSCRIBE, 1 on a new subscription only, 2 never.
        if ((ok && pending.retainHandling !== 2) || (code === 'already_subscribed' && pending.retainHandling === 0)) {
          (pending.ack.retained ??= []).push({ channel: pending.channel, qos: pending.qos, upTo: ok ? reply.offset : undefined });
        }
        return this.settle(pending.ack, pending.index, ok || code === 'already_subscribed' ? pending.qos : this.refusal(code!));
      case 'unsubscribe':
        if (ok) this.state.subscriptions.delete(pending.channel);
        return this.settle(pending.ack, pending.index, ok ? Reason.Success : this.refusal(code!));
      case 'publish':
        if (ok) return pending.qos === 1 ? puback(pending.packetId) : EMPTY;
        return this.publishRefused(pending, code!, message ?? '');
      case 'pattern': {
        const { grant, log } = patternAnswered(pending, this.state, ok ? null : code!, message ?? '', this.clientId);
        if (log) this.warn('mqtt_session_refused', log);
        return pending.ack === null ? EMPTY : this.settle(pending.ack, pending.index, grant === 'refused' ? this.refusal(code!) : grant);
      }
      case 'resume': {
        const warning = this.state.resubscribed(pending.channel, pending.resumed, reply);
        if (warning) this.warn(warning.code, warning.message);
        return EMPTY;
      }
    }
  }

  write(chunks: readonly Buffer[]): void {
    if (this.ending) return;
    this.socket.write(this.order.written(chunks));
  }

  onceDrain(listener: () => void): void { this.socket.once('drain', listener); }
  offDrain(listener: () => void): void { this.socket.off('drain', listener); }

  /** MQTT has no server ping: a device shows it is alive within its keepalive (keepalive.ts). */
  ping(): void {
    if (this.keepalive === 0 || Date.now() - this.lastPacket < this.keepalive * 1500) this.events?.alive();
  }

  close(code: number, reason: string): void {
    if (this.ending) return;
    if (this.version === 5) {
      this.socket.write(this.generate({ cmd: 'disconnect', reasonCode: disconnectReason(code), properties: reason ? { reasonString: reason } : {} }));
    }
    this.end();
  }

  terminate(): void {
    this.ending = true;
    this.stopTimers();
    this.socket.destroy();
  }

  /**
   * Another connection with the same client id took over (MQTT 3.1.1, 3.1.4-2): this one is closed,
   * and hands its session to the new one (which resumes it or starts clean).
   */
  takenOver(): MqttSessionState {
    this.disconnect(Reason.SessionTakenOver, 'another connection with this client id took the session over');
    this.ending = true;
    this.released = true;
    return this.state;
  }

  /** Seconds to keep the session once this connection closed: 0 when it ends, or another connection has it. */
  get keptFor(): number {
    return this.released ? 0 : this.keepFor;
  }

  /**
   * Resumes a stored session on this connection (its CONNACK said session present): the unacknowledged
   * QoS 1 deliveries are sent again with DUP set, and each channel is subscribed again from the
   * position of the last message handed to the device, so the hub's history replays what it missed.
   */
  resume(): void {
    this.outbound.resend();
    for (const [channel, { offset, epoch }] of this.state.subscriptions) {
      const since = offset !== undefined && epoch !== undefined ? `,"since":{"offset":${offset},"epoch":${JSON.stringify(epoch)}}` : '';
      this.commands.send(this.events, { kind: 'resume', channel, resumed: since !== '' }, `{"type":"subscribe","channel":${JSON.stringify(channel)}${since}`);
    }
    for (const [pattern, qos] of this.state.patterns) this.commands.pattern(this.events, null, 0, pattern, qos, false);
  }

  /** The stream closed, whoever closed it: the session is told. */
  closedByPeer(): void {
    this.ending = true;
    this.stopTimers();
    this.events?.closed();
  }

  // The device's packets.

  packet(packet: Packet): void {
    this.lastPacket = Date.now();
    this.events?.alive();
    switch (packet.cmd) {
      case 'publish': return this.publish(packet);
      case 'subscribe': return this.commands.subscribe(this.events, packet, this.settleNow);
      case 'unsubscribe': return this.commands.unsubscribe(this.events, packet, this.settleNow);
      case 'puback': return this.outbound.acknowledged(packet.messageId ?? 0);
      case 'pingreq':
        // A ping the inbound rate limit refuses goes unanswered (the session says so and closes at the burst).
        if (this.events?.pinged()) this.socket.write(this.generate({ cmd: 'pingresp' }));
        return;
      case 'disconnect': {
        // A DISCONNECT ends the connection without its will, unless MQTT 5 reason 0x04 asks for it.
        if (packet.reasonCode !== 0x04) this.will = null;
        const expiry = packet.properties?.sessionExpiryInterval;
        if (typeof expiry === 'number' && this.keepFor > 0) this.keepFor = Math.min(expiry, this.context.sessionExpiry);
        return this.end();
      }
      default:
        return this.protocolError(packet.cmd === 'connect' ? 'a second CONNECT' : `a ${packet.cmd.toUpperCase()} packet (livehub takes QoS 0 and 1: CONNECT, PUBLISH, PUBACK, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT)`);
    }
  }

  /** A PUBACK without reason code, read without the generic parser (reader.ts). */
  acknowledged(packetId: number): void {
    this.acknowledging = true;
    this.outbound.acknowledged(packetId);
  }

  /** The packets of one read are handled: the deliveries their PUBACKs made room for go out, in one write. */
  read(): void {
    if (this.acknowledging) {
      this.acknowledging = false;
      this.lastPacket = Date.now();
      this.events?.alive();
    }
    if (this.ending) return;
    this.outbound.flush();
    this.catchUp.room();
  }

  /** The stream could not be read on (reader.ts): says so to an MQTT 5 device, logs it, and closes. */
  unreadable(reason: number, message: string): void {
    this.warn('mqtt_bad_packet', `livehub: MQTT client ${JSON.stringify(this.clientId)} sent ${message}; the connection was closed`);
    this.disconnect(reason, message);
  }

  private publish(packet: IPublishPacket): void {
    const { topic, qos, messageId = 0 } = packet;
    if (qos > 1) return this.protocolError('a QoS 2 PUBLISH (livehub delivers at most QoS 1, as its CONNACK says)', Reason.QosNotSupported);
    const publish = publishCommand(packet, this.context.type);
    const pending = { kind: 'publish' as const, packetId: messageId, qos, topic };
    if ('code' in publish) this.publishRefused(pending, publish.code, publish.message);
    else this.commands.send(this.events, pending, publish.command);
  }

  /** A refused publish: an MQTT 5 QoS 1 one gets a PUBACK with the reason; otherwise MQTT can only close. */
  private publishRefused(pending: Extract<Pending, { kind: 'publish' }>, code: string, message: string): Buffer {
    const text = `livehub: MQTT client ${JSON.stringify(this.clientId)} could not publish on ${JSON.stringify(pending.topic)}: ${code} (${message})`;
    if (this.version === 5 && pending.qos === 1 && code !== 'rate_limited') {
      this.warnOnce(`mqtt_publish_refused:${code}`, `${text}; it got a PUBACK with reason ${reasonOf(code)}`);
      const puback = this.generate({ cmd: 'puback', messageId: pending.packetId, reasonCode: reasonOf(code), properties: { reasonString: `${code}: ${message}` } });
      if (this.events === null || code === 'invalid_channel' || code === 'bad_data' || code === 'bad_request') this.socket.write(puback);
      else return puback;
      return EMPTY;
    }
    this.warnOnce(`mqtt_publish_refused:${code}`, `${text}; MQTT ${this.version === 5 ? '5 has no answer to a refused QoS 0 publish' : '3.1.1 has no refusal for a publish'}, so the connection was closed`);
    setImmediate(() => this.disconnect(reasonOf(code), `${code}: ${message}`));
    return EMPTY;
  }

  /** An answer without a request: the hub dropped a command (the rate limit) or refused one it could not name. */
  private refused(code: string, message: string): void {
    this.warnOnce(`mqtt_refused:${code}`, `livehub: MQTT client ${JSON.stringify(this.clientId)} was refused (${code}: ${message}); MQTT cannot be told a packet was dropped, so the connection was closed`);
    this.disconnect(reasonOf(code), `${code}: ${message}`);
  }

  private refusal(code: string): number {
    return this.version === 5 ? reasonOf(code) : 0x80;
  }

  /** Fills one topic's code in; the whole acknowledgement once every topic has one (else nothing yet). */
  private settle(ack: Acknowledgement, index: number, code: number): Buffer {
    ack.codes[index] = this.version === 4 && code >= 0x80 ? 0x80 : code;
    if (--ack.waiting > 0) return EMPTY;
    const packet = ack.cmd === 'suback'
      ? { cmd: 'suback' as const, messageId: ack.packetId, granted: ack.codes }
      : this.version === 5 ? { cmd: 'unsuback' as const, messageId: ack.packetId, granted: ack.codes } : { cmd: 'unsuback' as const, messageId: ack.packetId, granted: [] };
    const bytes = this.generate(packet as Packet);
    if (ack.retained === undefined) return bytes;
    // Retained messages follow the SUBACK, read from the channels' history: the SUBACK goes out now.
    if (!this.ending) this.socket.write(bytes);
    void sendRetained(ack.retained, {
      history: this.context.history, outgoing: this.outgoing, version: this.version, outbound: this.outbound,
      write: (bytes) => { if (!this.ending) this.order.send(bytes); },
      failed: (channel, error) => this.warn('mqtt_retained_failed', `livehub: MQTT client ${JSON.stringify(this.clientId)} subscribed to ${JSON.stringify(channel)}, but its retained message could not be read from history (${error instanceof Error ? error.message : String(error)}); it was not sent`),
    });
    return EMPTY;
  }

  /** A message read from history as this connection's session gets messages (the hub's outgoing hook), or null. */
  private readonly outgoing = (message: HubMessage): HubMessage | null => (this.events === null ? message : this.context.outgoing(this.events, message));

  /** The device's last will, once (to publish: its connection ended without DISCONNECT). */
  takeWill(): Will | null {
    const will = this.will;
    this.will = null;
    return will;
  }

  /** Settles a topic the hub was not asked about (refused here): written at once if it completes the answer. */
  private readonly settleNow = (ack: Acknowledgement, index: number, code: number): void => {
    const packet = this.settle(ack, index, code);
    if (packet.length > 0 && !this.ending) this.socket.write(packet);
  };

  private protocolError(what: string, reason: number = Reason.ProtocolError): void {
    this.warn('mqtt_protocol_error', `livehub: MQTT client ${JSON.stringify(this.clientId)} sent ${what}; the connection was closed`);
    this.disconnect(reason, what);
  }

  /** Closes, telling an MQTT 5 device why. */
  private disconnect(reason: number, message: string): void {
    if (this.ending) return;
    if (this.version === 5) this.socket.write(this.generate({ cmd: 'disconnect', reasonCode: reason, properties: { reasonString: message.slice(0, 200) } }));
    this.end();
  }

  private end(): void {
    if (this.ending) return;
    this.ending = true;
    this.stopTimers();
    this.socket.end();
  }

  /** The connection ends: its keepalive watch and catching up stop. */
  private stopTimers(): void {
    this.keepaliveWatch?.stop();
    this.catchUp.stop();
  }

  generate(packet: Packet): Buffer {
    return mqttPacket.generate(packet, { protocolVersion: this.version });
  }

  private warn(code: string, message: string): void {
    this.context.reporter.report('warn', code, message);
  }

  private warnOnce(cause: string, message: string): void {
    this.context.reporter.report('warn', cause.split(':')[0]!, message, undefined, cause);
  }
}

