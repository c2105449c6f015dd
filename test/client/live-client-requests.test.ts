import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeClient, FakeSocket } from './fake-socket.js';

/** The outbox with requests and messages in it, and how frames are told apart, on a scripted socket. */

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function memoryStorage() {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => { items.set(key, value); },
    removeItem: (key: string) => { items.delete(key); },
  };
}

describe('LiveClient requests and messages in the outbox', () => {
  it('sends what was queued while offline in the order it was made: publishes, requests and messages', () => {
    const c = fakeClient();
    c.publish('room', 'said', 1).catch(() => {});
    c.request('lookup', { q: 'a' }, { queue: true }).catch(() => {});
    c.send('typing', true, { queue: true });
    c.publish('room', 'said', 2).catch(() => {});
    FakeSocket.last().accept('livehub.v1');
    expect(FakeSocket.last().sent.map((m) => [m.type, m.data])).toEqual([['publish', 1], ['lookup', { q: 'a' }], ['typing', true], ['publish', 2]]);
    const [, request, message] = FakeSocket.last().sent;
    expect(request).toEqual({ type: 'lookup', data: { q: 'a' }, id: expect.any(String) });
    expect(message).toEqual({ type: 'typing', data: true });
    c.dispose();
  });

  it('counts queued requests against outbox.maxSize', async () => {
    const c = fakeClient({ outbox: { maxSize: 2, overflow: 'reject' } });
    c.publish('room', 'said', 1).catch(() => {});
    c.request('lookup', null, { queue: true }).catch(() => {});
    await expect(c.request('lookup', null, { queue: true })).rejects.toMatchObject({ code: 'queue_full' });
    c.dispose();
  });

  it('times a queued request from its send, not from when it was made', async () => {
    const c = fakeClient({ requestTimeout: 1000 });
    const pending = c.request('lookup', null, { queue: true });
    let settled = false;
    pending.then(() => { settled = true; }, () => { settled = true; });
    await vi.advanceTimersByTimeAsync(5000);
    expect(settled).toBe(false);
    FakeSocket.last().accept('livehub.v1');
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(pending).rejects.toMatchObject({ code: 'timeout' });
    c.dispose();
  });

  it('rejects a request waiting in the outbox when the client is closed', async () => {
    const c = fakeClient();
    const pending = c.request('lookup', null, { queue: true });
    c.close();
    await expect(pending).rejects.toMatchObject({ code: 'closed' });
    c.dispose();
  });

  it('puts exceptSelf in the publish frame only when asked', () => {
    const c = fakeClient();
    FakeSocket.last().accept('livehub.v1');
    c.publish('room', 'typing', null, { exceptSelf: true }).catch(() => {});
    c.publish('room', 'said', 'x').catch(() => {});
    const [first, second] = FakeSocket.last().frames('publish');
    expect(first).toMatchObject({ exceptSelf: true });
    expect(second).not.toHaveProperty('exceptSelf');
    c.dispose();
  });
});

describe('LiveClient frames without a channel', () => {
  it('hands frames of other types to direct.on, and keeps the protocol\'s replies for itself', () => {
    const c = fakeClient();
    FakeSocket.last().accept('livehub.v1');
    const direct: string[] = [];
    const replies: string[] = [];
    c.direct.on('*', (_data, message) => direct.push(message.type));
    c.events.on('reply', (reply) => replies.push(reply.type));
    const socket = FakeSocket.last();
    socket.deliver({ type: 'pong' });
    socket.deliver({ type: 'ack', id: 'x' });
    socket.deliver({ type: 'reply', id: 'y', data: 1 });
    socket.deliver({ type: 'error', code: 'bad_json', message: 'no' });
    socket.deliver({ type: 'notice', data: { n: 1 } });
    socket.deliver({ type: 'wave' });
    expect(direct).toEqual(['notice', 'wave']);
    expect(replies).toEqual(['pong', 'ack', 'reply', 'error']);
    c.dispose();
  });

  it('resolves a request with its reply\'s data and rejects it on an error frame with that id', async () => {
    const c = fakeClient();
    FakeSocket.last().accept('livehub.v1');
    const good = c.request('lookup', 'a');
    const bad = c.request('lookup', 'b');
    const [first, second] = FakeSocket.last().frames('lookup');
    FakeSocket.last().deliver({ type: 'error', id: second.id, code: 'not_found', message: 'nothing for b' });
    FakeSocket.last().deliver({ type: 'reply', id: first.id, data: { found: 'a' } });
    await expect(good).resolves.toEqual({ found: 'a' });
    await expect(bad).rejects.toMatchObject({ code: 'not_found', message: 'nothing for b' });
    c.dispose();
  });
});
