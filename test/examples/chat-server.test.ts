import { describe, expect, it } from 'vitest';
import { historySize, HEARTBEAT_ALLOWANCE, HEARTBEAT_PERIOD, HEARTBEAT_TIMEOUT, MAX_RECONNECT_DELAY, MESSAGE_RATE, WORST_OUTAGE } from '../../examples/chat/timing.js';
import { toChatMessage } from '../../examples/chat/messages.js';
import { sendMessage } from '../../examples/chat/resend.js';
import { RedisEngine } from '../../pkg/engine/redis-index.js';
import { Peer, recordingLogger } from '../helpers.js';
import { sharedRedisUrl, startRedis } from '../redis.js';
import { chatServers, FailingEngine, pageProps, post } from './chat.js';

const chats = chatServers();

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
    // 503 not published, or 504 when the store may have taken it before it froze.
    expect([503, 504]).toContain(frozen.status);
    expect(['unavailable', 'outcome_unknown']).toContain((await frozen.json()).error.code);
    redis.signal('SIGCONT');
    await redis.stop();
    const killed = await post(`${chat.base}/messages`, { author: 'ann', body: 'killed' });
    expect(killed.status).toBe(503);
  }, 30_000);

  it('publishes a message resent with the same id once: a POST that failed while Redis was frozen, sent again after it resumed, is in history exactly once', async () => {
    const redis = await startRedis();
    chats.cleanup(async () => { redis.signal('SIGCONT'); await redis.stop(); });
    const engine = new RedisEngine({ url: redis.url, prefix: `chat-resend-${Date.now().toString(36)}`, commandTimeout: 500 });
    const chat = await chats.start({ hub: { engine, logger: false } });
    expect((await post(`${chat.base}/messages`, { author: 'ann', body: 'up' })).status).toBe(201);
    const message = { id: 'resent-message-1', author: 'ann', body: 'sent twice, shown once' };
    redis.signal('SIGSTOP');
    const failed = await post(`${chat.base}/messages`, message);
    expect([503, 504]).toContain(failed.status);
    expect(failed.headers.get('retry-after')).toBe('1');
    const { error } = await failed.json();
    expect(['unavailable', 'outcome_unknown']).toContain(error.code);
    expect(error.message).toContain('again with the same id');
    redis.signal('SIGCONT');
    // The resend, as the page makes it: the same id, until the server has it.
    let answer: Response;
    await expect.poll(async () => (answer = await post(`${chat.base}/messages`, message)).status, { timeout: 10_000 }).toBe(201);
    expect(await answer!.json()).toMatchObject({ id: message.id, body: message.body, offset: expect.any(Number) });
    // Once more, for good measure: the same position, nothing new.
    const again = await post(`${chat.base}/messages`, message);
    expect(again.status).toBe(201);
    expect(await again.json()).toMatchObject({ id: message.id, duplicate: true });
    const { publications } = await engine.history('chat', { offset: 0, epoch: (await engine.history('chat', null)).position.epoch });
    expect(publications.filter((p) => JSON.parse(p.data).id === message.id)).toHaveLength(1);
  }, 30_000);

  it('sends the page\'s message again with the same id after a 503 or 504 until the server has it (resend.ts)', async () => {
    const engine = new FailingEngine();
    const chat = await chats.start({ hub: { engine, logger: false } });
    engine.failing = true;
    const retries: string[] = [];
    const sent = sendMessage({ id: 'page-message-1', body: 'hello', author: 'ann' }, {
      base: chat.base, maxWait: 50,
      onRetry: (reason) => { retries.push(reason); if (retries.length === 2) engine.failing = false; },
    });
    expect(await sent).toMatchObject({ offset: 1 });
    expect(retries).toEqual([expect.stringContaining('unavailable'), expect.stringContaining('unavailable')]);
    // A message the server refuses for good is not sent again.
    await expect(sendMessage({ id: 'page-message-2', body: ' ', author: 'ann' }, { base: chat.base, onRetry: () => retries.push('again') })).rejects.toThrow('invalid_message');
    expect(retries).toHaveLength(2);
    const { messages } = await (await fetch(`${chat.base}/messages`)).json();
    expect(messages).toEqual([expect.objectContaining({ id: 'page-message-1', body: 'hello' })]);
  });

  it('refuses a POST whose id is not a valid message id with 422 saying what an id is', async () => {
    const chat = await chats.start({});
    const res = await post(`${chat.base}/messages`, { id: 'no spaces allowed', author: 'ann', body: 'x' });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_message', message: expect.stringContaining('same on a resend') } });
  });

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

  it('keeps every message a page may miss in its worst outage however busy the channel is, where a size from the assumed rate would not', async () => {
    expect(WORST_OUTAGE).toBeGreaterThanOrEqual(HEARTBEAT_PERIOD + HEARTBEAT_ALLOWANCE + HEARTBEAT_TIMEOUT + MAX_RECONNECT_DELAY);
    expect(historySize(MESSAGE_RATE)).toBe(Math.ceil(MESSAGE_RATE * WORST_OUTAGE / 1000));
    // Sized for 1 message/s, the channel gets 20 times what that rate puts in an outage, at once.
    const chat = await chats.start({ messageRate: 1 });
    const start = await chat.hub.position('chat');
    const burst = historySize(1) * 20;
    await Promise.all(Array.from({ length: burst }, (_, i) => chat.hub.publish('chat', 'message', { id: `message-${i}`, author: 'bot', body: String(i) })));
    const page = await Peer.open(chat.ws);
    page.send({ type: 'subscribe', channel: 'chat', since: start });
    expect(await page.next((m) => m.type === 'subscribed')).toMatchObject({ recovered: true });
    expect(await page.next((m) => m.channel === 'chat')).toMatchObject({ offset: start.offset + 1 });
    page.close();
  });

  it('keeps at most maxHistory messages, and logs that pages may get gaps when the channel outruns it', async () => {
    const { logger, lines } = recordingLogger();
    const chat = await chats.start({ maxHistory: 100, hub: { logger } });
    const start = await chat.hub.position('chat');
    for (let i = 0; i < 150; i++) await chat.hub.publish('chat', 'message', { id: `message-${i}`, author: 'bot', body: String(i) });
    const page = await Peer.open(chat.ws);
    page.send({ type: 'subscribe', channel: 'chat', since: start });
    expect(await page.next((m) => m.type === 'subscribed')).toMatchObject({ recovered: false });
    page.close();
    expect(lines.filter((l) => l.code === 'history_capped')).toEqual([
      expect.objectContaining({ level: 'warn', message: expect.stringMatching(/more than maxHistory \(100\).*gap.*MAX_HISTORY/) }),
    ]);
  });

  it('keeps what other nodes published before a node starts publishing on the channel', async () => {
    const url = await sharedRedisUrl();
    const prefix = `chat-history-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    const node = () => chats.start({ messageRate: 1, hub: { engine: new RedisEngine({ url, prefix }), logger: false } });
    const [busy, quiet] = await Promise.all([node(), node()]);
    const start = await busy.hub.position('chat');
    const burst = historySize(1) * 4;
    for (let i = 0; i < burst; i++) await busy.hub.publish('chat', 'message', { id: `message-${i}`, author: 'bot', body: String(i) });
    // The other node's first publish does not trim the shared history to its own guess.
    await quiet.hub.publish('chat', 'message', { id: 'message-quiet', author: 'bot', body: 'quiet' });
    const page = await Peer.open(quiet.ws);
    page.send({ type: 'subscribe', channel: 'chat', since: start });
    expect(await page.next((m) => m.type === 'subscribed')).toMatchObject({ recovered: true });
    page.close();
  }, 30_000);

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
