import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LiveClientOptions } from '../../client/index.js';
import { fakeClient, FakeSocket, subscribeFrame } from './fake-socket.js';

function client(options: LiveClientOptions = {}) {
  return fakeClient(options);
}

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('LiveClient', () => {
  it('sends subscribes made before open once the socket opens', () => {
    const c = client();
    c.subscribe('a');
    c.on('b', () => {});
    expect(FakeSocket.last().sent).toEqual([]);
    FakeSocket.last().accept();
    expect(FakeSocket.last().sent).toEqual([subscribeFrame('a'), subscribeFrame('b')]);
    expect(c.status).toBe('open');
  });

  it('resubscribes every channel on every reconnect', () => {
    const c = client();
    FakeSocket.last().accept();
    c.subscribe('x');
    c.on('y', () => {});
    for (let round = 0; round < 3; round++) {
      FakeSocket.last().drop();
      expect(c.status).toBe('reconnecting');
      vi.runOnlyPendingTimers();
      FakeSocket.last().accept();
      expect(FakeSocket.last().sent).toEqual([subscribeFrame('x'), subscribeFrame('y')]);
    }
    expect(FakeSocket.all).toHaveLength(4);
  });

  it('waits a full-jitter exponential backoff capped at reconnect.maxDelay', () => {
    const c = client({ reconnect: { delay: 100, maxDelay: 1000 }, random: () => 0.999 });
    const waits: number[] = [];
    for (let attempt = 0; attempt < 7; attempt++) {
      const before = FakeSocket.all.length;
      FakeSocket.last().drop();
      let waited = 0;
      while (FakeSocket.all.length === before) { vi.advanceTimersByTime(1); waited++; }
      waits.push(waited);
    }
    expect(waits).toEqual([100, 200, 400, 800, 1000, 1000, 1000].map((ceiling) => Math.floor(0.999 * ceiling)));
    c.close();
  });

  it('draws each delay at random between zero and the ceiling', () => {
    const draws = [0, 0.25];
    const c = client({ reconnect: { delay: 1000 }, random: () => draws.shift() ?? 0 });
    FakeSocket.last().drop();
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(0);
    expect(FakeSocket.all).toHaveLength(2); // random 0: at once
    FakeSocket.last().drop();
    vi.advanceTimersByTime(499);
    expect(FakeSocket.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(3); // 0.25 of 2000
    c.close();
  });

  it('resets the backoff after a successful open', () => {
    const c = client({ reconnect: { delay: 100 }, random: () => 0.999 });
    FakeSocket.last().drop();
    vi.advanceTimersByTime(100);
    FakeSocket.last().drop();
    vi.advanceTimersByTime(200);
    FakeSocket.last().accept();
    FakeSocket.last().drop();
    const before = FakeSocket.all.length;
    vi.advanceTimersByTime(100);
    expect(FakeSocket.all.length).toBe(before + 1);
    c.close();
  });

  it('never reconnects after close(), even when the socket reports its close later', () => {
    const c = client();
    const socket = FakeSocket.last();
    socket.accept();
    c.close();
    expect(socket.closedWith).toBe(1000);
    socket.drop(1006);
    vi.advanceTimersByTime(120_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(c.status).toBe('closed');
  });

  it('cancels a pending reconnect on close()', () => {
    const c = client();
    FakeSocket.last().drop();
    c.close();
    vi.advanceTimersByTime(120_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it.each([[1003], [4500], [4999]])('stops for good on terminal close code %i', (code) => {
    const c = client();
    FakeSocket.last().accept();
    FakeSocket.last().drop(code, 'no');
    vi.advanceTimersByTime(120_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(c.status).toBe('closed');
    expect(c.lastError?.message).toContain(String(code));
  });

  it.each([[1001], [1011], [1013], [4001]])('reconnects after close code %i', (code) => {
    const c = client();
    FakeSocket.last().accept();
    FakeSocket.last().drop(code);
    vi.runOnlyPendingTimers();
    expect(FakeSocket.all).toHaveLength(2);
    c.close();
  });

  it('gives up after reconnect.maxAttempts failed attempts in a row', () => {
    const c = client({ reconnect: { maxAttempts: 3 } });
    for (let i = 0; i < 3; i++) { FakeSocket.last().drop(); vi.runOnlyPendingTimers(); }
    FakeSocket.last().drop();
    vi.advanceTimersByTime(120_000);
    expect(FakeSocket.all).toHaveLength(4);
    expect(c.status).toBe('closed');
  });

  it('pings after heartbeat.interval of silence and reconnects when nothing answers in heartbeat.timeout', () => {
    const c = client({ heartbeat: { interval: 1000, timeout: 500 } });
    const socket = FakeSocket.last();
    socket.accept();
    vi.advanceTimersByTime(999);
    expect(socket.sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(socket.sent).toEqual([{ type: 'ping' }]);
    vi.advanceTimersByTime(500);
    expect(socket.closedWith).toBe(4000);
    vi.runOnlyPendingTimers();
    expect(FakeSocket.all).toHaveLength(2);
    c.close();
  });

  it('keeps a connection whose server answers the heartbeat', () => {
    const c = client({ heartbeat: { interval: 1000, timeout: 500 } });
    const socket = FakeSocket.last();
    socket.accept();
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(1000);
      socket.deliver({ type: 'pong' });
    }
    expect(socket.closedWith).toBeNull();
    expect(FakeSocket.all).toHaveLength(1);
    c.close();
  });

  it('reconnects at once when the browser reports it is online again', () => {
    const target = new EventTarget();
    vi.stubGlobal('addEventListener', target.addEventListener.bind(target));
    vi.stubGlobal('removeEventListener', target.removeEventListener.bind(target));
    const c = client({ reconnect: { delay: 10_000 }, random: () => 0.999 });
    FakeSocket.last().accept();
    FakeSocket.last().drop();
    expect(FakeSocket.all).toHaveLength(1);
    target.dispatchEvent(new Event('online'));
    expect(FakeSocket.all).toHaveLength(2);
    c.dispose();
  });

  it('queues publishes made before open, sends them on open, and resolves on ack', async () => {
    const c = client();
    const done = c.publish('chat', 'message', { t: 'hi' });
    const socket = FakeSocket.last();
    socket.accept();
    const frame = socket.sent.find((m) => m.type === 'publish');
    expect(frame).toMatchObject({ type: 'publish', channel: 'chat', event: 'message', data: { t: 'hi' } });
    socket.deliver({ type: 'ack', id: frame.id });
    await expect(done).resolves.toBeUndefined();
  });

  it('rejects a publish answered by an error frame, with its code', async () => {
    const c = client();
    FakeSocket.last().accept();
    const done = c.publish('chat', 'message', 1);
    const frame = FakeSocket.last().sent.find((m) => m.type === 'publish');
    FakeSocket.last().deliver({ type: 'error', code: 'forbidden', message: 'no', id: frame.id });
    await expect(done).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('calls handlers with (data, message) and unsubscribes when the last handler is off', () => {
    const c = client();
    const socket = FakeSocket.last();
    socket.accept();
    const seen: unknown[] = [];
    const off1 = c.on('n', (data, message) => seen.push([data, message.type]));
    const off2 = c.on('n', (data) => seen.push(data));
    expect(socket.sent.filter((m) => m.type === 'subscribe')).toHaveLength(1);
    socket.deliver({ channel: 'n', type: 'update', data: 7 });
    expect(seen).toEqual([[7, 'update'], 7]);
    off1();
    expect(socket.sent.filter((m) => m.type === 'unsubscribe')).toHaveLength(0);
    off2();
    expect(socket.sent.filter((m) => m.type === 'unsubscribe')).toEqual([{ type: 'unsubscribe', channel: 'n' }]);
  });

  it('does not mistake a hub message whose type is "error" for an error reply', () => {
    const c = client();
    FakeSocket.last().accept();
    const errors: Error[] = [];
    c.events.on('error', (e) => errors.push(e));
    const seen: unknown[] = [];
    c.on('logs', (data) => seen.push(data));
    FakeSocket.last().deliver({ channel: 'logs', type: 'error', data: 'disk full' });
    expect(seen).toEqual(['disk full']);
    expect(errors).toEqual([]);
  });

  it('takes a frame of several messages, one per line, in order; reports a line that is not JSON and keeps going', () => {
    const c = client();
    FakeSocket.last().accept();
    const errors: Error[] = [];
    c.events.on('error', (e) => errors.push(e));
    const seen: unknown[] = [];
    c.on('c', (data) => seen.push(data));
    FakeSocket.last().deliver('{"channel":"c","type":"t","data":1}\n{"channel":"c","type":"t","data":2}');
    FakeSocket.last().deliver('{"channel":"c","type":"t","data":3}\nnot json\n{"channel":"c","type":"t","data":4}');
    expect(errors).toMatchObject([{ code: 'bad_json' }]);
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('asks getToken before every connect and puts the token in the query', async () => {
    let n = 0;
    const c = client({ getToken: () => `tok${++n}` });
    await vi.advanceTimersByTimeAsync(0);
    expect(new URL(FakeSocket.last().url).searchParams.get('token')).toBe('tok1');
    FakeSocket.last().accept();
    FakeSocket.last().drop(1006);
    await vi.runOnlyPendingTimersAsync();
    expect(new URL(FakeSocket.last().url).searchParams.get('token')).toBe('tok2');
    c.close();
  });

  it('reconnects at once with a fresh token after close 4002 (token expired)', async () => {
    let n = 0;
    const c = client({ getToken: async () => `tok${++n}`, reconnect: { delay: 60_000 }, random: () => 0.999 });
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.last().accept();
    FakeSocket.last().drop(4002, 'token expired');
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.all).toHaveLength(2);
    expect(new URL(FakeSocket.last().url).searchParams.get('token')).toBe('tok2');
    c.close();
  });

  it('stops for good after 4503 (disconnected by the server)', () => {
    const c = client();
    FakeSocket.last().accept();
    FakeSocket.last().drop(4503, 'logged out');
    vi.advanceTimersByTime(120_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(c.status).toBe('closed');
  });

  it('reconnects with backoff after 4003 (rate limited)', () => {
    const c = client({ reconnect: { delay: 1000 }, random: () => 0.5 });
    FakeSocket.last().accept();
    FakeSocket.last().drop(4003, 'rate limited');
    vi.advanceTimersByTime(499);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);
    c.close();
  });

  it('retries with backoff when getToken fails', async () => {
    let calls = 0;
    const c = client({ getToken: async () => { calls++; throw new Error('auth server down'); }, reconnect: { delay: 100 }, random: () => 0.5 });
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.all).toHaveLength(0);
    expect(c.lastError?.message).toBe('auth server down');
    await vi.advanceTimersByTimeAsync(50);
    expect(calls).toBe(2);
    c.close();
  });

  it('resubscribes with the last position seen, and drops messages at or below it', () => {
    const c = client();
    const seen: number[] = [];
    c.on<number>('feed', (n) => seen.push(n));
    FakeSocket.last().accept();
    FakeSocket.last().deliver({ type: 'subscribed', channel: 'feed', offset: 10, epoch: 'E' });
    FakeSocket.last().deliver({ channel: 'feed', type: 'n', data: 11, offset: 11 });
    FakeSocket.last().deliver({ channel: 'feed', type: 'n', data: 12, offset: 12 });
    FakeSocket.last().deliver({ channel: 'feed', type: 'n', data: 12, offset: 12 }); // a duplicate
    expect(seen).toEqual([11, 12]);
    FakeSocket.last().drop();
    vi.runOnlyPendingTimers();
    FakeSocket.last().accept();
    expect(FakeSocket.last().sent).toEqual([subscribeFrame('feed', { offset: 12, epoch: 'E' })]);
    c.close();
  });

  it('emits recovered and keeps the replay; emits gap, with the position it resumed from, and takes the new position when not recovered', () => {
    const c = client();
    const events: unknown[] = [];
    c.events.on('recovered', (e) => events.push(['recovered', e]));
    c.events.on('gap', (e) => events.push(['gap', e]));
    const seen: number[] = [];
    c.on<number>('a', (n) => seen.push(n), { since: { offset: 5, epoch: 'E' } });
    FakeSocket.last().accept();
    expect(FakeSocket.last().sent[0]).toEqual(subscribeFrame('a', { offset: 5, epoch: 'E' }));
    FakeSocket.last().deliver({ type: 'subscribed', channel: 'a', offset: 7, epoch: 'E', recovered: true });
    FakeSocket.last().deliver({ channel: 'a', type: 'n', data: 6, offset: 6 });
    FakeSocket.last().deliver({ channel: 'a', type: 'n', data: 7, offset: 7 });
    expect(seen).toEqual([6, 7]);
    expect(events).toEqual([['recovered', { channel: 'a', from: 5, to: 7 }]]);
    FakeSocket.last().drop();
    vi.runOnlyPendingTimers();
    FakeSocket.last().accept();
    FakeSocket.last().deliver({ type: 'subscribed', channel: 'a', offset: 2, epoch: 'NEW', recovered: false });
    FakeSocket.last().deliver({ channel: 'a', type: 'n', data: 3, offset: 3 });
    expect(seen).toEqual([6, 7, 3]);
    expect(events[1]).toEqual(['gap', { channel: 'a', position: { offset: 2, epoch: 'NEW' }, since: { offset: 7, epoch: 'E' } }]);
    expect(c.position('a')).toEqual({ offset: 3, epoch: 'NEW' });
    c.close();
  });

  it('sends an unacked publish again with the same id after a reconnect, and resolves on its ack', async () => {
    const c = client();
    FakeSocket.last().accept();
    const done = c.publish('chat', 'm', 'hi');
    const first = FakeSocket.last().sent.find((m) => m.type === 'publish');
    FakeSocket.last().drop();
    vi.runOnlyPendingTimers();
    FakeSocket.last().accept();
    const again = FakeSocket.last().sent.find((m) => m.type === 'publish');
    expect(again).toEqual(first);
    expect(typeof first.id).toBe('string');
    FakeSocket.last().deliver({ type: 'ack', id: first.id });
    await expect(done).resolves.toBeUndefined();
  });

  it('retries an unacked publish after ackTimeout and gives up after outbox.maxAttempts', async () => {
    const c = client({ ackTimeout: 100, outbox: { maxAttempts: 3 } });
    FakeSocket.last().accept();
    const done = c.publish('chat', 'm', 1);
    const outcome = done.catch((e) => e);
    vi.advanceTimersByTime(100);
    vi.advanceTimersByTime(100);
    expect(FakeSocket.last().sent.filter((m) => m.type === 'publish')).toHaveLength(3);
    vi.advanceTimersByTime(100);
    expect(await outcome).toMatchObject({ code: 'timeout' });
    c.close();
  });

  it.each(['outcome_unknown', 'unavailable', 'forbidden'])('rejects a publish answered %s at once with that code and its channel', async (code) => {
    const c = client({ ackTimeout: 100 });
    FakeSocket.last().accept();
    const done = c.publish('chat', 'm', 1).catch((e) => e);
    const first = FakeSocket.last().sent.find((m) => m.type === 'publish');
    FakeSocket.last().deliver({ type: 'error', code, id: first.id, channel: 'chat', message: 'no' });
    expect(await done).toMatchObject({ code, channel: 'chat' });
    vi.advanceTimersByTime(1000);
    expect(FakeSocket.last().sent.filter((m) => m.type === 'publish')).toHaveLength(1);
    c.close();
  });

  it('keeps requests and messages queued offline in storage with the publishes, and the next client sends each once, in order', () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v), removeItem: (k: string) => void store.delete(k) };
    const first = client({ outbox: { storage } });
    const sizes: number[] = [];
    first.events.on('outbox', ({ size }) => sizes.push(size));
    first.publish('chat', 'm', 'one').catch(() => {});
    first.request('cart.add', { sku: 7 }, { queue: true }).catch(() => {});
    first.send('typing', { on: true }, { queue: true });
    expect(first.queued).toBe(3);
    expect(sizes).toEqual([1, 2, 3]);
    first.close(); // the page reloads

    const second = client({ outbox: { storage } });
    expect(second.queued).toBe(3);
    const replies: unknown[] = [];
    second.events.on('reply', (reply) => replies.push(reply));
    FakeSocket.last().accept();
    const sent = FakeSocket.last().sent;
    expect(sent.map((m) => m.type)).toEqual(['publish', 'cart.add', 'typing']);
    expect(sent[1]).toMatchObject({ data: { sku: 7 } });
    FakeSocket.last().deliver({ type: 'reply', id: sent[1].id, data: { items: 1 } });
    expect(replies).toEqual([{ type: 'reply', id: sent[1].id, data: { items: 1 } }]);
    // Sent: only the unacked publish is kept, so a third page sends the request no more.
    expect(JSON.parse(store.values().next().value!)).toHaveLength(1);
    second.close();
    const third = client({ outbox: { storage } });
    FakeSocket.last().accept();
    expect(FakeSocket.last().sent.map((m) => m.type)).toEqual(['publish']);
    third.close();
  });

  it('restores at most outbox.maxSize kept entries, the newest', () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v), removeItem: (k: string) => void store.delete(k) };
    const first = client({ outbox: { storage, maxSize: 10 } });
    for (let i = 0; i < 10; i++) first.send('n', i, { queue: true });
    first.close();
    const second = client({ outbox: { storage, maxSize: 4 } });
    expect(second.queued).toBe(4);
    FakeSocket.last().accept();
    expect(FakeSocket.last().sent.map((m) => m.data)).toEqual([6, 7, 8, 9]);
    second.close();
  });

  it('keeps unacked publishes in storage and sends them from the next client', () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v), removeItem: (k: string) => void store.delete(k) };
    const first = client({ storage });
    first.publish('chat', 'm', 'typed offline').catch(() => {});
    first.close();
    expect(store.size).toBe(1);
    const second = client({ storage });
    FakeSocket.last().accept();
    const sent = FakeSocket.last().sent.find((m) => m.type === 'publish');
    expect(sent).toMatchObject({ channel: 'chat', event: 'm', data: 'typed offline' });
    FakeSocket.last().deliver({ type: 'ack', id: sent.id });
    expect(store.size).toBe(0);
    second.close();
  });

  it.each([
    ['drop-oldest', 'the oldest'],
    ['reject', 'the newest'],
  ] as const)('applies outbox.overflow %s: rejects %s publish when the outbox is full', async (policy, _which) => {
    const c = client({ outbox: { maxSize: 2, overflow: policy } });
    const results = [c.publish('a', 'm', 1), c.publish('a', 'm', 2), c.publish('a', 'm', 3)].map((p) => p.then(() => 'ok', (e) => e.code));
    FakeSocket.last().accept();
    for (const m of FakeSocket.last().sent.filter((f) => f.type === 'publish')) FakeSocket.last().deliver({ type: 'ack', id: m.id });
    expect(await Promise.all(results)).toEqual(policy === 'drop-oldest' ? ['queue_full', 'ok', 'ok'] : ['ok', 'ok', 'queue_full']);
    c.close();
  });

  it('drops the socket when the browser goes offline, and reconnects only when it is back online', () => {
    const target = new EventTarget();
    vi.stubGlobal('addEventListener', target.addEventListener.bind(target));
    vi.stubGlobal('removeEventListener', target.removeEventListener.bind(target));
    const navigator = { onLine: true };
    vi.stubGlobal('navigator', navigator);
    const c = client({ reconnect: { delay: 10 } });
    FakeSocket.last().accept();
    navigator.onLine = false;
    target.dispatchEvent(new Event('offline'));
    expect(FakeSocket.last().closedWith).toBe(4000);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1); // no attempts while offline
    expect(c.status).toBe('reconnecting');
    navigator.onLine = true;
    target.dispatchEvent(new Event('online'));
    expect(FakeSocket.all).toHaveLength(2);
    c.dispose();
  });
});

