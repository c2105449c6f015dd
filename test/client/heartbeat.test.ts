import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionStore } from '../../client/core/connection.js';
import { fakeClient, FakeSocket } from './fake-socket.js';

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A client whose server (the fake socket) announced a heartbeat period of `period` ms. */
function announced(period = 5000, options: Parameters<typeof fakeClient>[0] = {}) {
  const c = fakeClient(options);
  const socket = FakeSocket.last();
  socket.accept('livehub.v1');
  socket.deliver({ type: 'connected', heartbeat: period });
  const stale: boolean[] = [];
  c.events.on('stale', (value) => stale.push(value));
  return { c, socket, stale };
}

describe('the client\'s watch on a server that announces a heartbeat period', () => {
  it('shows the open connection stale once the period and the allowance pass without traffic, probes it, and clears it on traffic', () => {
    const { c, socket, stale } = announced();
    vi.advanceTimersByTime(5999);
    expect(c.stale).toBe(false);
    expect(socket.frames('ping')).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(c.stale).toBe(true);
    expect(c.status).toBe('open');
    expect(socket.frames('ping')).toHaveLength(1);
    socket.deliver({ type: 'pong' });
    expect(c.stale).toBe(false);
    expect(stale).toEqual([true, false]);
    c.close();
  });

  it('stays live while heartbeats come, and takes neither them nor the announcement for messages', () => {
    const { c, socket, stale } = announced();
    const direct: unknown[] = [];
    const replies: unknown[] = [];
    c.direct.on('*', (data, message) => direct.push(message));
    c.events.on('reply', (reply) => replies.push(reply));
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(5500);
      socket.deliver('{"type":"heartbeat"}');
    }
    expect(stale).toEqual([]);
    expect(socket.frames('ping')).toEqual([]);
    expect(direct).toEqual([]);
    expect(replies).toEqual([]);
    c.close();
  });

  it('drops a stale connection whose probe goes unanswered for 3 s with close 4000, and reconnects', () => {
    const { c, socket, stale } = announced();
    vi.advanceTimersByTime(6000 + 2999);
    expect(socket.closedWith).toBeNull();
    vi.advanceTimersByTime(1);
    expect(socket.closedWith).toBe(4000);
    expect(c.status).toBe('reconnecting');
    expect(c.stale).toBe(false);
    expect(stale).toEqual([true, false]);
    vi.runOnlyPendingTimers();
    expect(FakeSocket.all).toHaveLength(2);
    c.close();
  });

  it('follows the period the server announced, and heartbeat.allowance', () => {
    const { c, socket } = announced(20_000, { heartbeat: { allowance: 500 } });
    vi.advanceTimersByTime(20_499);
    expect(c.stale).toBe(false);
    vi.advanceTimersByTime(1);
    expect(c.stale).toBe(true);
    expect(socket.frames('ping')).toHaveLength(1);
    c.close();
  });

  it('keeps an explicit heartbeat.interval and timeout: pings after interval of silence, stale only past the period', () => {
    const { c, socket, stale } = announced(5000, { heartbeat: { interval: 1000, timeout: 500 } });
    vi.advanceTimersByTime(1000);
    expect(socket.frames('ping')).toHaveLength(1);
    expect(c.stale).toBe(false);
    socket.deliver({ type: 'pong' });
    vi.advanceTimersByTime(1000);
    expect(socket.frames('ping')).toHaveLength(2);
    vi.advanceTimersByTime(500);
    expect(socket.closedWith).toBe(4000);
    expect(stale).toEqual([]);
    c.close();
  });

  it('from a server that announces no period, pings after 25 s of silence, drops after 10 s more, and is never stale', () => {
    const c = fakeClient();
    const socket = FakeSocket.last();
    socket.accept('livehub.v1');
    const stale: boolean[] = [];
    c.events.on('stale', (value) => stale.push(value));
    vi.advanceTimersByTime(25_000);
    expect(socket.frames('ping')).toHaveLength(1);
    vi.advanceTimersByTime(9999);
    expect(socket.closedWith).toBeNull();
    vi.advanceTimersByTime(1);
    expect(socket.closedWith).toBe(4000);
    expect(stale).toEqual([]);
    c.close();
  });

  it('puts stale in the connection state that the Vue and React hooks read, one snapshot per change', () => {
    const { c, socket } = announced();
    const store = new ConnectionStore(() => c);
    const changes: Array<{ stale: boolean }> = [];
    const stop = store.subscribe(() => changes.push(store.getSnapshot()));
    expect(store.getSnapshot()).toMatchObject({ status: 'open', connected: true, stale: false });
    vi.advanceTimersByTime(6000);
    expect(store.getSnapshot()).toMatchObject({ status: 'open', connected: true, stale: true });
    socket.deliver('{"type":"heartbeat"}');
    expect(store.getSnapshot()).toMatchObject({ status: 'open', connected: true, stale: false });
    expect(changes.map((state) => state.stale)).toEqual([false, true, false]); // subscribing reads it once
    stop();
    c.close();
  });
});
