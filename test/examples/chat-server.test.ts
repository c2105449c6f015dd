import { describe, expect, it } from 'vitest';
import { historySize, HEARTBEAT_ALLOWANCE, HEARTBEAT_PERIOD, HEARTBEAT_TIMEOUT, MAX_RECONNECT_DELAY, MESSAGE_RATE, WORST_OUTAGE } from '../../examples/chat/timing.js';
import { toChatMessage } from '../../examples/chat/messages.js';
import type { PublishOptions, PublishResult } from '../../pkg/engine/engine.js';
import { MemoryEngine, type HistoryPolicy } from '../../pkg/engine/index.js';
import { RedisEngine } from '../../pkg/engine/redis-index.js';
import { Peer } from '../helpers.js';
import { startRedis } from '../redis.js';
import { chatServers, pageProps, post } from './chat.js';

const chats = chatServers();

/** A memory engine whose publishes fail while `failing` is set, as a Redis that is down. */
class FailingEngine extends MemoryEngine {
  failing = false;
  override publish(channel: string, type: string, dataJson: string, policy: HistoryPolicy, options?: PublishOptions): PublishResult {
    if (this.failing && !channel.startsWith('#')) throw Object.assign(new Error('Redis at 127.0.0.1:1 is down'), { code: 'unavailable' });
    return super.publish(channel, type, dataJson, policy, options);
  }
}

describe('the example chat server', () => {
  it('refuses origins outside its allowlist and accepts those in it', async () => {
    const chat = await chats.start({ origins: ['https://chat.example'] });
    await expect(Peer.open(chat.ws, { headers: { Origin: 'https://evil.example' } })).rejects.toThrow('HTTP 403');
    const ok = await Peer.open(chat.ws, { headers: { Origin: 'https://chat.example' } });
    ok.close();
  });

  it('throws a TypeError for an unknown option or a bad message rate', async () => {
    await expect(chats.start({ mesageRate: 5 } as never)).rejects.toThrow(TypeError);
    await expect(chats.start({ messageRate: 0 })).rejects.toThrow(/messageRate/);
  });

  it('answers bad posts with a coded error, and a good one with 201 and its stream position once published', async () => {
    const chat = await chats.start({});
    const reader = await Peer.open(chat.ws);
    await reader.subscribe('chat');
    const empty = await post(`${chat.base}/messages`, { author: 'ann', body: '  ' });
    expect(empty.status).toBe(422);
    expect(await empty.json()).toMatchObject({ error: { code: 'invalid_message' } });
    const spaced = await post(`${chat.base}/messages`, { author: 'ann smith', body: 'x' });
    expect(spaced.status).toBe(400);
    expect(await spaced.json()).toMatchObject({ error: { code: 'invalid_name' } });

    const res = await post(`${chat.base}/messages`, { author: 'ann', body: 'hello' });
    expect(res.status).toBe(201);
    const sent = await res.json();
    expect(sent).toMatchObject({ author: 'ann', body: 'hello', offset: 1, epoch: expect.any(String) });
    expect(await reader.next((m) => m.channel === 'chat')).toMatchObject({ type: 'message', offset: 1, data: { id: sent.id, author: 'ann', body: 'hello' } });
    reader.close();
  });

  it('answers 503 with a JSON error while the publish fails, and lists only what was published', async () => {
    const engine = new FailingEngine();
    const chat = await chats.start({ hub: { engine, logger: false } });
    expect((await post(`${chat.base}/messages`, { author: 'ann', body: 'before' })).status).toBe(201);
    engine.failing = true;
    const refused = await post(`${chat.base}/messages`, { author: 'ann', body: 'while down' });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { code: 'unavailable', message: expect.stringContaining('is down') } });
    engine.failing = false;
    expect((await post(`${chat.base}/messages`, { author: 'ann', body: 'after' })).status).toBe(201);
    const { messages } = await (await fetch(`${chat.base}/messages`)).json();
    expect(messages.map((m: { body: string }) => m.body)).toEqual(['before', 'after']);
  });

  it('answers 503 when its Redis is killed or frozen, instead of 201 for a message nobody gets', async () => {
    const redis = await startRedis();
    chats.cleanup(async () => { redis.signal('SIGCONT'); await redis.stop(); });
    const engine = new RedisEngine({ url: redis.url, prefix: `chat-${Date.now().toString(36)}`, commandTimeout: 500 });
    const chat = await chats.start({ hub: { engine, logger: false } });
    expect((await post(`${chat.base}/messages`, { author: 'ann', body: 'up' })).status).toBe(201);
    redis.signal('SIGSTOP');
    const frozen = await post(`${chat.base}/messages`, { author: 'ann', body: 'frozen' });
    expect(frozen.status).toBe(503);
    expect((await frozen.json()).error.code).toBe('unavailable');
    redis.signal('SIGCONT');
    await redis.stop();
    const killed = await post(`${chat.base}/messages`, { author: 'ann', body: 'killed' });
    expect(killed.status).toBe(503);
  }, 30_000);

  it('lists the latest messages in stream order with the position they end at, and a page resuming there misses nothing', async () => {
    const chat = await chats.start({});
    for (let i = 1; i <= 60; i++) await chat.hub.publish('chat', 'message', { id: `message-${i}`, author: 'bot', body: `m${i}` });
    const props = await pageProps(chat.base);
    const listed = (props.messages as Array<{ body: string; offset: number }>);
    expect(listed.map((m) => m.body)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i + 11}`));
    expect(listed.map((m) => m.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
    expect(props.position).toMatchObject({ offset: 60 });
    expect(await (await fetch(`${chat.base}/messages`)).json()).toEqual({ messages: props.messages, position: props.position });

    await chat.hub.publish('chat', 'message', { id: 'message-61', author: 'bot', body: 'm61' });
    const page = await Peer.open(chat.ws);
    const { offset, epoch } = props.position as { offset: number; epoch: string };
    page.send({ type: 'subscribe', channel: 'chat', since: { offset, epoch } });
    expect(await page.next((m) => m.type === 'subscribed')).toMatchObject({ recovered: true });
    expect(await page.next((m) => m.channel === 'chat')).toMatchObject({ offset: 61, data: { body: 'm61' } });
    page.close();
  });

  it('keeps every message of its worst outage at its message rate in history, and no more', async () => {
    expect(WORST_OUTAGE).toBeGreaterThanOrEqual(HEARTBEAT_PERIOD + HEARTBEAT_ALLOWANCE + HEARTBEAT_TIMEOUT + MAX_RECONNECT_DELAY);
    expect(historySize(MESSAGE_RATE)).toBe(Math.ceil(MESSAGE_RATE * WORST_OUTAGE / 1000));
    // At 1 message/s the history holds one outage's worth: a page away that long recovers, longer is a gap.
    const chat = await chats.start({ messageRate: 1 });
    expect(chat.historyKept).toBe(Math.ceil(WORST_OUTAGE / 1000));
    const start = await chat.hub.position('chat');
    const resume = async () => {
      const page = await Peer.open(chat.ws);
      page.send({ type: 'subscribe', channel: 'chat', since: start });
      const reply = await page.next((m) => m.type === 'subscribed');
      page.close();
      return reply.recovered;
    };
    for (let i = 0; i < chat.historyKept; i++) await chat.hub.publish('chat', 'message', { id: `message-${i}`, author: 'bot', body: String(i) });
    expect(await resume()).toBe(true);
    await chat.hub.publish('chat', 'message', { id: 'message-one-more', author: 'bot', body: 'one more' });
    expect(await resume()).toBe(false);
  });

  it('holds an anonymous page to the name its connection declared, and stamps who published', async () => {
    const chat = await chats.start({});
    const reader = await Peer.open(chat.ws);
    await reader.subscribe('chat');
    const ann = await Peer.open(`${chat.ws}?name=ann`);
    ann.send({ type: 'publish', channel: 'chat', event: 'message', data: { id: 'impostor-1', author: 'bob', body: 'I am bob' }, id: 1 });
    expect(await ann.next((m) => m.id === 1)).toMatchObject({ type: 'error', code: 'forbidden' });
    ann.send({ type: 'publish', channel: 'chat', event: 'message', data: { id: 'honest-01', author: 'ann', body: 'I am ann' }, id: 2 });
    expect(await ann.next((m) => m.id === 2)).toMatchObject({ type: 'ack' });
    const got = await reader.next((m) => m.channel === 'chat');
    expect(got.from).toEqual({ client: expect.any(String) });
    expect(toChatMessage(got)).toMatchObject({ author: 'ann', body: 'I am ann' });
    ann.close();
    reader.close();
  });

  it('shows the stamped user as the author whatever the data says', () => {
    const forged = { type: 'message', offset: 3, data: { id: 'message-3', author: 'bob', body: 'hi' }, from: { user: 'alice', client: 'c1' } };
    expect(toChatMessage(forged)).toEqual({ id: 'message-3', author: 'alice', body: 'hi', offset: 3 });
    expect(toChatMessage({ type: 'typing_start', data: {} })).toBeNull();
  });
});
