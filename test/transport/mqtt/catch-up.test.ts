import { connect, type Socket } from 'node:net';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { Hub, HubOptions } from 'livehub';
import type { HistoryOptions } from 'livehub/transport';
import type { HubMessage, StreamPosition } from '../../../pkg/protocol/index.js';
import { CatchUp } from '../../../pkg/transport/mqtt/catch-up.js';
import { Outbound } from '../../../pkg/transport/mqtt/outbound.js';
import { utf8, type PublishParts } from '../../../pkg/transport/mqtt/packets.js';
import { MqttSessionState } from '../../../pkg/transport/mqtt/sessions.js';
import { recordingLogger } from '../../helpers.js';
import { mqttHarness } from './setup.js';

const { harness, start, device } = mqttHarness();
const anyone: HubOptions = { authenticate: () => ({ userId: 'anyone' }), canPublish: () => true };

/** A raw MQTT 3.1.1 device that acknowledges only when told to. */
async function silentDevice(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  harness.cleanup(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  const packets: Packet[] = [];
  let closed = false;
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (packet) => packets.push(packet));
  socket.on('data', (chunk) => parser.parse(chunk));
  socket.on('close', () => { closed = true; });
  socket.on('error', () => {});
  const send = (packet: Packet) => socket.write(mqttPacket.generate(packet, { protocolVersion: 4 }));
  send({ cmd: 'connect', protocolVersion: 4, clientId: `silent-${Math.random()}`, clean: true, keepalive: 0 });
  await expect.poll(() => packets.find((p) => p.cmd === 'connack')).toBeDefined();
  send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'feed', qos: 1 }] });
  await expect.poll(() => packets.find((p) => p.cmd === 'suback')).toMatchObject({ granted: [1] });
  const feed = () => packets.filter((p): p is IPublishPacket => p.cmd === 'publish' && p.topic === 'feed');
  let acked = 0;
  return {
    feed,
    bodies: () => feed().map((p) => p.payload.toString()),
    isClosed: () => closed,
    /** Acknowledges what arrived and was not acknowledged yet. */
    ackAll() {
      const got = feed();
      for (; acked < got.length; acked++) send({ cmd: 'puback', messageId: got[acked]!.messageId });
    },
  };
}

/** Acknowledges as deliveries arrive until `done` holds. */
async function ackUntil(silent: Awaited<ReturnType<typeof silentDevice>>, done: () => boolean) {
  await expect.poll(() => { silent.ackAll(); return done(); }, { timeout: 10_000 }).toBe(true);
}

/**
 * A silent device subscribed to `feed` while 1 to 20 are published one at a time, each seen by a
 * canary device that acknowledges: only the silent one falls behind.
 */
async function fallBehind(port: number, hub: Hub) {
  const silent = await silentDevice(port);
  const canary = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
  await canary.client.subscribeAsync('feed', { qos: 1 });
  for (let i = 1; i <= 20; i++) {
    await hub.publish('feed', 'message', i);
    await expect.poll(() => canary.received.length).toBe(i);
  }
  return silent;
}

const numbers = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

describe('MQTT QoS 1 subscriptions falling behind their device', () => {
  it('catch up from history: a device that acknowledges slower than its channel is published gets every message once and in order, and stays connected', async () => {
    const { port, hub, logs } = await start({ ...anyone, sendBuffer: 4 }, { maxInflight: 2 }, { record: true });
    const silent = await fallBehind(port, hub);
    // Its receive maximum is out, unacknowledged; the rest wait or are left in history.
    expect(silent.bodies()).toEqual(['1', '2']);
    expect(logs.find((l) => l.code === 'mqtt_catching_up')?.message).toMatch(/more than sendBuffer \(4\) QoS 1 messages of "feed" waiting beyond its receive maximum \(2\); it catches up from the channel's history/);
    await ackUntil(silent, () => silent.feed().length >= 20);
    // Live again: the next message follows at once.
    await hub.publish('feed', 'message', 21);
    await ackUntil(silent, () => silent.feed().length >= 21);
    expect(silent.bodies()).toEqual(numbers(1, 21));
    expect(silent.isClosed()).toBe(false);
    expect(logs.some((l) => l.code === 'mqtt_slow_consumer' || l.code === 'mqtt_qos1_gap')).toBe(false);
  });

  it('go on from the newest message, logging mqtt_qos1_gap, when the device fell further behind than history keeps', async () => {
    const { port, hub, logs } = await start({ ...anyone, sendBuffer: 4, history: { size: 5 } }, { maxInflight: 2 }, { record: true });
    const silent = await fallBehind(port, hub);
    await ackUntil(silent, () => logs.some((l) => l.code === 'mqtt_qos1_gap'));
    expect(logs.find((l) => l.code === 'mqtt_qos1_gap')?.message).toMatch(/fell further behind on "feed" than the channel's history keeps .* raise the hub's history size or ttl/);
    await hub.publish('feed', 'message', 21);
    await ackUntil(silent, () => silent.bodies().includes('21'));
    // Two in flight and four waiting when it fell behind; 7 to 20 were gone from history.
    expect(silent.bodies()).toEqual([...numbers(1, 6), '21']);
    expect(silent.isClosed()).toBe(false);
  });
});

describe('MQTT deliveries read from history', () => {
  it('go through the hub\'s outgoing hook as live ones do: what it drops for a device is not caught up, nor sent as the retained message', async () => {
    const { port, hub } = await start({ ...anyone, sendBuffer: 4 }, { maxInflight: 2 });
    hub.outgoing((message) => ((message.data as number) % 2 === 0 ? null : message));
    const silent = await silentDevice(port);
    const canary = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
    await canary.client.subscribeAsync('feed', { qos: 1 });
    for (let i = 1; i <= 20; i++) {
      await hub.publish('feed', 'message', i, i === 20 ? { tags: { retain: '1' } } : {});
      await expect.poll(() => canary.received.length).toBe(Math.ceil(i / 2));
    }
    await hub.publish('feed', 'message', 21);
    await ackUntil(silent, () => silent.bodies().includes('21'));
    expect(silent.bodies()).toEqual(['1', '3', '5', '7', '9', '11', '13', '15', '17', '19', '21']);
    // The retained message (20) is dropped by the hook: a new subscriber gets none, only what follows.
    const late = await device(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
    await late.client.subscribeAsync('feed', { qos: 1 });
    await hub.publish('feed', 'message', 23);
    expect((await late.next()).payload).toBe('23');
  });
});

describe('CatchUp', () => {
  const EPOCH = 'e1';
  const parts = (...offsets: number[]): PublishParts[] => offsets.map((offset) => ({ topic: utf8('feed'), properties: null, payload: Buffer.from(String(offset)), offset }));
  const message = (offset: number): HubMessage => ({ channel: 'feed', type: 'message', data: offset, offset });

  function setUp(history: (channel: string, options: HistoryOptions) => Promise<{ position: StreamPosition; messages: HubMessage[]; complete: boolean }>) {
    const state = new MqttSessionState('device', null, 4);
    const subscription = { qos: 1 as const, offset: 0, epoch: EPOCH };
    state.subscriptions.set('feed', subscription);
    const sent: Buffer[] = [];
    const outbound = new Outbound(state, 4, 2, (bytes) => sent.push(bytes));
    const { logger, lines } = recordingLogger();
    const reporter = { report: (level: 'info' | 'warn' | 'error', code: string, text: string) => logger[level]({ code }, text), error: () => {} };
    const catchUp = new CatchUp({ clientId: 'device', version: 4, reporter, sendBuffer: 4, state, outbound, history, outgoing: (m) => m, send: (bytes) => sent.push(bytes), ending: () => false });
    harness.cleanup(() => catchUp.stop());
    return { state, subscription, outbound, catchUp, sent, lines };
  }

  it('holds at most sendBuffer deliveries beyond the receive maximum, and lets the rest pass until it reads them', () => {
    const { state, subscription, catchUp } = setUp(() => new Promise(() => {}));
    catchUp.live('feed', subscription, parts(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 10);
    expect(state.inflight.size).toBe(2);
    expect(state.held.map((p) => p.offset)).toEqual([3, 4, 5, 6]);
    expect(subscription.offset).toBe(6);
    expect(catchUp.catchingUp('feed')).toBe(true);
    // Live messages meanwhile are read later, not held.
    catchUp.live('feed', subscription, parts(11), 11);
    expect(state.held).toHaveLength(4);
    expect(subscription.offset).toBe(6);
  });

  it('hands each offset on once when a history read ran ahead of this node\'s fan-out', () => {
    const { state, subscription, catchUp } = setUp(() => new Promise(() => {}));
    subscription.offset = 5;
    catchUp.live('feed', subscription, parts(4, 5, 6), 6);
    expect([...state.inflight.keys()]).toHaveLength(1);
    expect(subscription.offset).toBe(6);
  });

  it('reads from where it stands once PUBACKs freed half of sendBuffer, each message once and in order, and takes live messages again once it caught up', async () => {
    const reads: HistoryOptions[] = [];
    const { state, subscription, outbound, catchUp } = setUp(async (_channel, options) => {
      reads.push(options);
      const after = [7, 8, 9, 10, 11, 12].filter((offset) => offset > options.since!.offset);
      return { position: { offset: 12, epoch: EPOCH }, messages: after.slice(0, options.limit).map(message), complete: true };
    });
    // Each delivery's payload (its offset) as it goes in flight: a QoS 1 packet to "feed" has 10 bytes before it.
    const delivered: number[] = [];
    const set = state.inflight.set.bind(state.inflight);
    state.inflight.set = (id, packet) => { delivered.push(Number(packet.subarray(10).toString())); return set(id, packet); };
    catchUp.live('feed', subscription, parts(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 10);
    catchUp.live('feed', subscription, parts(11, 12), 12);
    catchUp.room();
    expect(reads).toEqual([]); // four still wait
    for (const id of [...state.inflight.keys()]) outbound.acknowledged(id);
    outbound.flush(); // 3 and 4 go out, 5 and 6 wait: half of sendBuffer
    catchUp.room();
    expect(reads).toEqual([{ since: { offset: 6, epoch: EPOCH }, limit: 2 }]);
    await expect.poll(() => {
      for (const id of [...state.inflight.keys()]) outbound.acknowledged(id);
      outbound.flush();
      catchUp.room();
      return catchUp.catchingUp('feed');
    }).toBe(false);
    await expect.poll(() => {
      for (const id of [...state.inflight.keys()]) outbound.acknowledged(id);
      outbound.flush();
      return delivered.length;
    }).toBe(12);
    catchUp.live('feed', subscription, parts(12, 13), 13);
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  });

  it('goes on from the channel\'s position when history no longer holds what it missed, and logs it', async () => {
    const { subscription, catchUp, state, outbound, lines } = setUp(async () => ({ position: { offset: 40, epoch: 'e2' }, messages: [], complete: false }));
    catchUp.live('feed', subscription, parts(1, 2, 3, 4, 5, 6, 7), 7);
    for (let i = 0; i < 3; i++) {
      for (const id of [...state.inflight.keys()]) outbound.acknowledged(id);
      outbound.flush();
    }
    catchUp.room();
    await expect.poll(() => catchUp.catchingUp('feed')).toBe(false);
    expect(subscription).toMatchObject({ offset: 40, epoch: 'e2' });
    expect(lines.find((l) => l.code === 'mqtt_qos1_gap')?.level).toBe('warn');
    catchUp.live('feed', subscription, parts(41), 41);
    expect(state.inflight.size).toBe(1);
  });

  it('logs a history read that failed, and tries again', async () => {
    let calls = 0;
    const { subscription, catchUp, state, outbound, lines } = setUp(async () => {
      if (++calls === 1) throw new Error('engine down');
      return { position: { offset: 7, epoch: EPOCH }, messages: [message(7)], complete: true };
    });
    catchUp.live('feed', subscription, parts(1, 2, 3, 4, 5, 6, 7), 7);
    for (let i = 0; i < 3; i++) {
      for (const id of [...state.inflight.keys()]) outbound.acknowledged(id);
      outbound.flush();
    }
    catchUp.room();
    await expect.poll(() => lines.find((l) => l.code === 'mqtt_catch_up_failed')?.message).toMatch(/its history could not be read \(engine down\); it tries again in 1 s/);
    await expect.poll(() => catchUp.catchingUp('feed'), { timeout: 3000 }).toBe(false);
    expect(calls).toBe(2);
    expect(subscription.offset).toBe(7);
  });

  it('drops a read for a subscription that ended meanwhile', async () => {
    let answer: (value: { position: StreamPosition; messages: HubMessage[]; complete: boolean }) => void = () => {};
    const { subscription, catchUp, state, outbound } = setUp(() => new Promise((resolve) => { answer = resolve; }));
    catchUp.live('feed', subscription, parts(1, 2, 3, 4, 5, 6, 7), 7);
    for (let i = 0; i < 3; i++) {
      for (const id of [...state.inflight.keys()]) outbound.acknowledged(id);
      outbound.flush();
    }
    catchUp.room();
    state.subscriptions.delete('feed');
    answer({ position: { offset: 7, epoch: EPOCH }, messages: [message(7)], complete: true });
    await expect.poll(() => catchUp.catchingUp('feed')).toBe(false);
    expect(state.inflight.size + state.held.length).toBe(0);
  });
});
