import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveError, type SubscribeErrorEvent } from '../../client/index.js';
import { MemoryEngine, type HistoryResult, type StreamPosition } from '../../pkg/engine/index.js';
import { perTest } from '../helpers.js';
import { fakeClient, FakeSocket } from './fake-socket.js';

const V1 = 'livehub.v1';

describe('a subscribe refused by the server (fake socket)', () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  function refuse(socket: FakeSocket, code: string, channel = 'orders') {
    const subscribe = socket.frames('subscribe').filter((f) => f.channel === channel).at(-1);
    socket.deliver({ type: 'error', code, message: 'subscribe failed; retry later', channel, id: subscribe.id });
  }

  it.each(['unavailable', 'internal', 'rate_limited'])('retries a subscribe refused with %s, with full-jitter backoff capped at reconnect.maxDelay, and shows it', (code) => {
    const c = fakeClient({ reconnect: { delay: 100, maxDelay: 500 }, random: () => 0.999, heartbeat: { interval: 1e9 } });
    const events: SubscribeErrorEvent[] = [];
    c.events.on('subscribeError', (e) => events.push(e));
    c.on('orders', () => {});
    const socket = FakeSocket.last();
    socket.accept(V1);
    const waits: number[] = [];
    for (let round = 0; round < 5; round++) {
      refuse(socket, code);
      const before = socket.frames('subscribe').length;
      let waited = 0;
      while (socket.frames('subscribe').length === before && waited < 10_000) { vi.advanceTimersByTime(1); waited++; }
      waits.push(waited);
    }
    expect(waits).toEqual([100, 200, 400, 500, 500].map((ceiling) => Math.floor(0.999 * ceiling)));
    expect(events).toHaveLength(5);
    expect(events[0]).toMatchObject({ channel: 'orders', retrying: true, retryIn: 99 });
    expect(events[0]!.error).toBeInstanceOf(LiveError);
    expect(events[0]!.error).toMatchObject({ code, channel: 'orders' });
    expect(c.lastError).toMatchObject({ code, channel: 'orders' });
    expect(c.status).toBe('open');
    // Each retry is a new request; its answer ends the failure and clears the error.
    const ids = socket.frames('subscribe').map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    socket.deliver({ type: 'subscribed', channel: 'orders', offset: 0, epoch: 'E', id: ids.at(-1) });
    expect(c.lastError).toBeNull();
    vi.advanceTimersByTime(60_000);
    expect(socket.frames('subscribe')).toHaveLength(6);
    c.close();
  });

  it.each(['forbidden', 'invalid_channel', 'too_many_channels'])('reports a subscribe refused with %s and does not retry it on the same connection', (code) => {
    const c = fakeClient({ heartbeat: { interval: 1e9 } });
    const events: SubscribeErrorEvent[] = [];
    const errors: Error[] = [];
    c.events.on('subscribeError', (e) => events.push(e));
    c.events.on('error', (e) => errors.push(e));
    c.on('orders', () => {});
    const socket = FakeSocket.last();
    socket.accept(V1);
    refuse(socket, code);
    vi.advanceTimersByTime(120_000);
    expect(socket.frames('subscribe')).toHaveLength(1);
    expect(events).toEqual([{ channel: 'orders', error: expect.objectContaining({ code, channel: 'orders' }), retrying: false }]);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain('"orders"');
    expect(c.lastError).toBe(errors[0]);
    c.close();
  });

  it('matches an error without an id to the subscribe in flight on its channel', () => {
    const c = fakeClient({ reconnect: { delay: 100 }, random: () => 0.5 });
    const events: SubscribeErrorEvent[] = [];
    c.events.on('subscribeError', (e) => events.push(e));
    c.on('orders', () => {});
    FakeSocket.last().accept(V1);
    FakeSocket.last().deliver({ type: 'error', code: 'unavailable', message: 'subscribe failed; retry later', channel: 'orders' });
    expect(events).toMatchObject([{ channel: 'orders', retrying: true }]);
    vi.advanceTimersByTime(50);
    expect(FakeSocket.last().frames('subscribe')).toHaveLength(2);
    c.close();
  });

  it('stops retrying once the channel is no longer wanted', () => {
    const c = fakeClient({ reconnect: { delay: 100 }, heartbeat: { interval: 1e9 } });
    const off = c.on('orders', () => {});
    const socket = FakeSocket.last();
    socket.accept(V1);
    refuse(socket, 'unavailable');
    off();
    vi.advanceTimersByTime(60_000);
    expect(socket.frames('subscribe')).toHaveLength(1);
    expect(socket.frames('unsubscribe')).toEqual([{ type: 'unsubscribe', channel: 'orders' }]);
    c.close();
  });

  it('subscribes again when a server that confirms subscribes (livehub.v1) does not answer within ackTimeout, with no console warning of a refusal', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const c = fakeClient({ ackTimeout: 1000, reconnect: { delay: 100 }, random: () => 0.5 });
    const events: SubscribeErrorEvent[] = [];
    c.events.on('subscribeError', (e) => events.push(e));
    c.on('orders', () => {});
    const socket = FakeSocket.last();
    socket.accept(V1);
    vi.advanceTimersByTime(999);
    expect(socket.frames('subscribe')).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(events).toMatchObject([{ channel: 'orders', retrying: true, retryIn: 50, error: { code: 'timeout', channel: 'orders' } }]);
    vi.advanceTimersByTime(50);
    expect(socket.frames('subscribe')).toHaveLength(2);
    expect(warn).not.toHaveBeenCalled(); // no answer is not a refusal: it shows in subscribeError and error only
    c.close();
  });

  it('expects no confirmation from a server without the livehub.v1 subprotocol, and still delivers its messages', () => {
    const c = fakeClient({ ackTimeout: 1000, heartbeat: { interval: 1e9 } });
    const seen: unknown[] = [];
    c.on('orders', (data) => seen.push(data));
    const socket = FakeSocket.last();
    expect(socket.protocols).toEqual([V1]);
    socket.accept('');
    vi.advanceTimersByTime(60_000);
    expect(socket.frames('subscribe')).toHaveLength(1);
    socket.deliver({ channel: 'orders', type: 'created', data: { id: 1 } });
    expect(seen).toEqual([{ id: 1 }]);
    expect(c.lastError).toBeNull();
    c.close();
  });

  it('ignores a second, stale subscribed answer: the position held stays, and what was seen is not taken again', () => {
    const c = fakeClient({ heartbeat: { interval: 1e9 } });
    const seen: number[] = [];
    c.on<number>('feed', (n) => seen.push(n));
    const socket = FakeSocket.last();
    socket.accept(V1);
    const [subscribe] = socket.frames('subscribe');
    socket.deliver({ type: 'subscribed', channel: 'feed', offset: 10, epoch: 'E', id: subscribe.id });
    socket.deliver({ channel: 'feed', type: 'n', data: 11, offset: 11 });
    socket.deliver({ channel: 'feed', type: 'n', data: 12, offset: 12 });
    socket.deliver({ type: 'subscribed', channel: 'feed', offset: 10, epoch: 'E', id: subscribe.id });
    socket.deliver({ channel: 'feed', type: 'n', data: 11, offset: 11 });
    expect(seen).toEqual([11, 12]);
    expect(c.position('feed')).toEqual({ offset: 12, epoch: 'E' });
    c.close();
  });

  it('starts a subscribe afresh on a new connection after failures on the old one', () => {
    const c = fakeClient({ reconnect: { delay: 100 }, random: () => 0.999 });
    c.on('orders', () => {});
    FakeSocket.last().accept(V1);
    refuse(FakeSocket.last(), 'unavailable');
    FakeSocket.last().drop();
    vi.advanceTimersByTime(100);
    FakeSocket.last().accept(V1);
    expect(FakeSocket.last().frames('subscribe')).toHaveLength(1);
    vi.advanceTimersByTime(5000);
    expect(FakeSocket.last().frames('subscribe')).toHaveLength(1); // the old retry timer is gone
    c.close();
  });
});

/** A MemoryEngine whose history reads fail the first `failures` times. */
class FlakyHistoryEngine extends MemoryEngine {
  constructor(public failures: number) { super(); }
  override history(channel: string, since: StreamPosition | null): HistoryResult {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('history store unreachable (test)');
    }
    return super.history(channel, since);
  }
}

describe('a subscribe refused by a real hub', () => {
  const { start } = perTest();

  it('is retried after unavailable until it succeeds, and the channel then gets its messages', async () => {
    const engine = new FlakyHistoryEngine(2);
    const s = await start({ engine, onError: () => {} });
    const { LiveClient } = await import('../../client/index.js');
    const c = new LiveClient(s.url, { reconnect: { delay: 20, maxDelay: 100 } });
    const events: SubscribeErrorEvent[] = [];
    c.events.on('subscribeError', (e) => events.push(e));
    const seen: unknown[] = [];
    c.on('orders', (data) => seen.push(data));
    try {
      await expect.poll(() => events.length).toBe(2);
      expect(events.map((e) => [e.channel, e.error.code, e.retrying])).toEqual([['orders', 'unavailable', true], ['orders', 'unavailable', true]]);
      await expect.poll(() => c.lastError).toBeNull();
      await expect.poll(() => s.hub.info().channels).toBe(1);
      s.hub.publish('orders', 'created', { id: 7 });
      await expect.poll(() => seen).toEqual([{ id: 7 }]);
      expect(c.status).toBe('open');
      expect(engine.failures).toBe(0);
    } finally {
      c.dispose();
    }
  });
});
