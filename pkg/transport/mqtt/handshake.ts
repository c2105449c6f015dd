/**
 * From bytes to a hub session: a connection's first packet must be a CONNECT, within the endpoint's
 * `connectTimeout`. Its credentials go through the hub's gate (`host.admit`: connection caps and
 * `authenticate`), which sees them as request headers: the password as `authorization: Bearer
 * <password>` (so a JWT as password works with `jwtAuthenticator`), the user name as
 * `x-mqtt-username`, the client id as `x-mqtt-client-id`. A refusal is a CONNACK with its return
 * code (MQTT 3.1.1) or reason code (MQTT 5), then the connection is closed.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { IConnackPacket, IConnectPacket, Packet } from 'mqtt-packet';
import mqttPacket from 'mqtt-packet';
import { isRefusal, type RequestInfo, type TransportHost } from '../index.js';
import { MqttConnection, type ConnectionContext } from './connection.js';
import { DelayedWills, messageMetadata, payloadJson, type Will } from './metadata.js';
import { connackV4, Reason, type MqttVersion } from './packets.js';
import { PacketReader } from './reader.js';
import { MqttSessionState, resumable } from './sessions.js';
import type { SessionStore } from './session-store.js';
import { channelOf, isReservedTopic } from './topics.js';

export interface HandshakeSettings {
  connectTimeout: number;
  maxPacketSize: number;
  type: string;
  /** The longest a session is kept after its device went away, in seconds. */
  sessionExpiry: number;
  /** QoS 1 deliveries unacknowledged at a time at most, below the device's own receive maximum. */
  maxInflight: number;
}

/** The MQTT 5 reason for a refusal of the hub's gate (its HTTP status). */
function refusalReason(status: number, hadPassword: boolean): number {
  if (status === 401) return hadPassword ? Reason.BadCredentials : Reason.NotAuthorized;
  if (status === 403) return Reason.NotAuthorized;
  if (status === 429) return Reason.ConnectionRateExceeded;
  if (status === 503) return Reason.ServerBusy;
  return Reason.Unspecified;
}

export class Handshake {
  private readonly context: ConnectionContext;
  private readonly wills = new DelayedWills();

  constructor(
    private readonly host: TransportHost,
    private readonly settings: HandshakeSettings,
    private readonly clients: Map<string, MqttConnection>,
    private readonly opening: Set<Duplex>,
    private readonly sessions: SessionStore,
  ) {
    this.context = {
      reporter: host.reporter, type: settings.type, sendBuffer: host.options.sendBuffer, sessionExpiry: settings.sessionExpiry,
      publish: (channel, type, dataJson, as) => host.publish(channel, type, dataJson, as),
      history: (channel, options) => host.history(channel, options),
      outgoing: (session, message) => host.outgoing(session, message),
      closing: () => host.closing,
    };
  }

  /** The endpoint stops: wills still waiting out their delay are not published. */
  stop(): void {
    this.wills.clear();
  }

  /** Reads a new connection: `request` is what the gate and policies see of it, `raw` its socket. */
  begin(stream: Duplex, request: RequestInfo, raw: Duplex): void {
    const { reporter } = this.host;
    const peer = request.socket?.remoteAddress ?? 'unknown';
    this.opening.add(stream);
    const timer = setTimeout(() => {
      reporter.report('info', 'mqtt_connect_timeout', `livehub: an MQTT connection from ${peer} sent no CONNECT within connectTimeout (${this.settings.connectTimeout} ms); it was closed`);
      stream.destroy();
    }, this.settings.connectTimeout).unref();
    let connection: MqttConnection | null = null;
    let admitting = false;
    const early: Packet[] = [];
    const received = (packet: Packet): void => {
      if (connection) return connection.packet(packet);
      if (admitting) return void early.push(packet);
      if (packet.cmd !== 'connect') {
        reporter.report('warn', 'mqtt_protocol_error', `livehub: an MQTT connection from ${peer} began with a ${packet.cmd.toUpperCase()} packet instead of CONNECT; it was closed`);
        return void stream.destroy();
      }
      admitting = true;
      clearTimeout(timer);
      this.connect(packet, stream, request, raw).then((opened) => {
        connection = opened;
        if (opened) {
          reader.version = opened.version;
          for (const waiting of early.splice(0)) opened.packet(waiting);
          opened.read();
        }
      }, (error: unknown) => {
        reporter.error(error, 'mqtt_connect_failed');
        stream.destroy();
      });
    };
    const reader = new PacketReader(this.settings.maxPacketSize, {
      packet: received,
      acknowledged: (packetId) => connection ? connection.acknowledged(packetId) : received({ cmd: 'puback', messageId: packetId }),
      read: () => connection?.read(),
      refused: (reason, message) => {
        if (connection) return connection.unreadable(reason, message);
        reporter.report('warn', 'mqtt_bad_packet', `livehub: an MQTT connection from ${peer} sent ${message} before it was connected; it was closed`);
        // An unknown protocol level in a CONNECT is answered as MQTT 3.1.1 says (return code 1).
        if (/protocol version/i.test(message)) stream.end(mqttPacket.generate({ cmd: 'connack', returnCode: 1, sessionPresent: false }));
        else stream.destroy();
      },
    });
    stream.on('data', (chunk: Buffer) => reader.push(chunk));
    stream.on('error', (error: Error) => connection?.events?.failed(error));
    stream.on('close', () => {
      this.opening.delete(stream);
      clearTimeout(timer);
      reader.stop();
      if (!connection) return;
      if (this.clients.get(connection.clientId) === connection) this.clients.delete(connection.clientId);
      connection.closedByPeer();
      const will = connection.takeWill();
      if (will) this.wills.left(connection.clientId, will, Math.min(will.delay ?? 0, connection.keptFor), this.context);
      if (connection.keptFor > 0) this.sessions.keep(connection.state, connection.keptFor);
    });
  }

  /** A CONNECT's last will, ready to publish; or the reason it is refused (logged). */
  private will(will: NonNullable<IConnectPacket['will']>, clientId: string): (Omit<Will, 'as'> & { tags?: Record<string, string> }) | number {
    const refused = (reason: number, why: string): number => {
      this.host.reporter.report('warn', 'mqtt_will_refused', `livehub: MQTT client ${JSON.stringify(clientId)} set a last will that cannot be published: ${why}; its CONNECT was refused`);
      return reason;
    };
    const channel = isReservedTopic(will.topic) ? null : channelOf(will.topic);
    if (channel === null) return refused(Reason.TopicNameInvalid, `topic ${JSON.stringify(will.topic)} names no livehub channel`);
    if ((will.qos ?? 0) > 1) return refused(Reason.QosNotSupported, 'QoS 2 (livehub takes QoS 0 and 1)');
    let dataJson: string;
    try {
      dataJson = payloadJson(will.payload);
    } catch {
      return refused(Reason.PayloadFormatInvalid, 'its payload is not UTF-8 text');
    }
    // A will's message expiry counts from when it is published (Will.expiry), not from the CONNECT.
    const metadata = messageMetadata({ retain: will.retain, properties: { userProperties: will.properties?.userProperties as Record<string, string | string[]> | undefined } });
    if (typeof metadata === 'string') return refused(Reason.ImplementationSpecific, metadata);
    const expiry = will.properties?.messageExpiryInterval;
    const delay = will.properties?.willDelayInterval;
    return {
      channel, topic: will.topic, type: metadata.type ?? this.settings.type, dataJson,
      ...(metadata.tags ? { tags: metadata.tags } : {}), ...(typeof expiry === 'number' && expiry > 0 ? { expiry } : {}),
      ...(typeof delay === 'number' && delay > 0 ? { delay } : {}),
    };
  }

  /** Answers a CONNECT: refused with its code, or accepted and opened as a hub session. */
  private async connect(packet: IConnectPacket, stream: Duplex, request: RequestInfo, raw: Duplex): Promise<MqttConnection | null> {
    const host = this.host;
    const version = (packet.protocolVersion === 5 ? 5 : 4) as MqttVersion;
    const refuse = (reason: number): null => {
      const connack: IConnackPacket = version === 5
        ? { cmd: 'connack', reasonCode: reason, sessionPresent: false }
        : { cmd: 'connack', returnCode: connackV4(reason), sessionPresent: false };
      stream.end(mqttPacket.generate(connack, { protocolVersion: version }));
      return null;
    };
    if (packet.protocolVersion !== 4 && packet.protocolVersion !== 5) return refuse(Reason.UnsupportedVersion);
    if (host.closing) return refuse(Reason.ServerUnavailable);
    let clientId = packet.clientId;
    if (!clientId && version === 4 && packet.clean === false) return refuse(Reason.ClientIdNotValid);
    const assigned = clientId ? undefined : (clientId = `livehub-${randomUUID()}`);

    const headers: RequestInfo['headers'] = { ...request.headers, 'x-mqtt-client-id': clientId };
    if (packet.username !== undefined) headers['x-mqtt-username'] = packet.username;
    const password = packet.password === undefined ? '' : packet.password.toString('utf8');
    if (password) headers.authorization = `Bearer ${password}`;
    const admission = { headers, url: request.url, method: request.method, socket: request.socket };
    const verdict = await host.admit(admission, raw, { originChecked: true });
    if (stream.destroyed) return null;
    if (isRefusal(verdict)) return refuse(refusalReason(verdict.status, password !== ''));
    if (host.closing) return refuse(Reason.ServerUnavailable);

    // MQTT 3.1.1: clean session false resumes a session and keeps it (up to sessionExpiry). MQTT 5:
    // clean start false resumes one; the session expiry interval says how long it is kept (0: not).
    const resume = packet.clean === false;
    const asked = version === 5 ? packet.properties?.sessionExpiryInterval ?? 0 : resume ? Infinity : 0;
    const keepFor = Math.min(asked, this.settings.sessionExpiry);
    const will = packet.will ? this.will(packet.will, clientId) : null;
    if (typeof will === 'number') return refuse(will);
    const previous = this.clients.get(clientId);
    const userId = verdict.identity?.userId ?? null;
    let state: MqttSessionState | null;
    if (previous) {
      const taken = previous.takenOver();
      state = resume ? resumable(taken, userId, version, host.reporter) : null;
    } else {
      state = resume ? await this.sessions.take(clientId, userId, version) : null;
      if (stream.destroyed) {
        // The device left while its session was read: it stays stored.
        if (state !== null) this.sessions.keep(state, keepFor > 0 ? keepFor : this.settings.sessionExpiry);
        return null;
      }
    }
    if (!resume) this.sessions.drop(clientId);
    const sessionPresent = state !== null;
    // MQTT 5: a device back in its session within its will delay interval has its will dropped.
    if (previous && sessionPresent && (previous.will?.delay ?? 0) > 0) previous.takeWill();
    if (this.wills.returned(clientId, sessionPresent)) {
      host.reporter.report('info', 'mqtt_will_dropped', `livehub: MQTT client ${JSON.stringify(clientId)} resumed its session within its will delay interval; its last will was not published`);
    }
    state ??= new MqttSessionState(clientId, userId, version);

    const keepalive = packet.keepalive ?? 0;
    const receiveMaximum = Math.min(this.settings.maxInflight, version === 5 ? packet.properties?.receiveMaximum ?? 0xffff : 0xffff);
    const connection = new MqttConnection(stream, version, clientId, keepalive, receiveMaximum, this.context, state);
    connection.keepFor = keepFor;
    const connack: IConnackPacket = version === 5
      ? {
        cmd: 'connack', reasonCode: 0, sessionPresent, properties: {
          ...(asked > keepFor ? { sessionExpiryInterval: keepFor } : {}),
          maximumQoS: 1, retainAvailable: true, wildcardSubscriptionAvailable: true, sharedSubscriptionAvailable: false,
          subscriptionIdentifiersAvailable: false, topicAliasMaximum: 0, maximumPacketSize: this.settings.maxPacketSize,
          ...(assigned ? { assignedClientIdentifier: assigned } : {}),
        },
      }
      : { cmd: 'connack', returnCode: 0, sessionPresent };
    stream.write(connection.generate(connack));
    this.clients.set(clientId, connection);
    this.opening.delete(stream);
    const kept = host.requestInfo(admission);
    connection.events = host.open(connection, kept, verdict.identity);
    if (will) connection.will = { ...will, as: { identity: verdict.identity, request: kept, clientId: connection.events.id, ...(will.tags ? { tags: will.tags } : {}) } };
    if (sessionPresent) connection.resume();
    return connection;
  }
}
