import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveClient, LiveError, type LiveStatus } from '../../client/index.js';
import { fakeClient, FakeSocket } from './fake-socket.js';

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

function browserEvents() {
  const target = new EventTarget();
  vi.stubGlobal('addEventListener', target.addEventListener.bind(target));
  vi.stubGlobal('removeEventListener', target.removeEventListener.bind(target));
  return target;
}

describe('connecting', () => {
  it('offers the livehub.v1 subprotocol, and none on the attempt after one that failed before opening (how a browser fails a hub that selects none)', () => {
    const c = fakeClient();
    FakeSocket.last().drop();
    vi.runOnlyPendingTimers();
    FakeSocket.last().drop();
    vi.runOnlyPendingTimers();
    expect(FakeSocket.all.map((s) => s.protocols)).toEqual([['livehub.v1'], undefined, ['livehub.v1']]);
    c.close();
  });

  it('sends no heartbeat pings to a hub of the plain protocol, which would not answer them, and keeps the connection', () => {
    const c = fakeClient({ heartbeat: { interval: 100, timeout: 100 } });
    FakeSocket.last().accept('');
    expect(c.dialect).toBe('plain');
    vi.advanceTimersByTime(5000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(FakeSocket.last().closedWith).toBeNull();
    // The one ping is the probe for a livehub hub behind a plain connection, with an id.
    expect(FakeSocket.last().frames('ping')).toEqual([{ type: 'ping', id: expect.stringMatching(/dialect$/) }]);
    c.close();
  });

  it('with dialect: \'livehub\' offers livehub.v1 on every attempt, and with \'plain\' on none', () => {
    const livehub = fakeClient({ dialect: 'livehub' });
    FakeSocket.last().drop();
    vi.runOnlyPendingTimers();
    expect(FakeSocket.all.map((s) => s.protocols)).toEqual([['livehub.v1'], ['livehub.v1']]);
    livehub.close();
    FakeSocket.all = [];
    const plain = fakeClient({ dialect: 'plain' });
    FakeSocket.last().accept();
    expect(plain.dialect).toBe('plain');
    expect(FakeSocket.all.map((s) => s.protocols)).toEqual([undefined]);
    plain.close();
  });

  it('closes an attempt that has not opened within connectTimeout, says so, and tries again with backoff', () => {
    const c = fakeClient({ connectTimeout: 3000, reconnect: { delay: 1000 }, random: () => 0.5 });
    const statuses: LiveStatus[] = [];
    const errors: LiveError[] = [];
    c.events.on('status', (s) => statuses.push(s));
    c.events.on('error', (e) => errors.push(e as LiveError));
    const stuck = FakeSocket.last();
    vi.advanceTimersByTime(2999);
    expect(stuck.closedWith).toBeNull();
    vi.advanceTimersByTime(1);
    expect(stuck.closedWith).not.toBeNull();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'connect_timeout' });
    expect(errors[0]!.message).toContain('ws://hub.test/ws');
    expect(c.lastError).toBe(errors[0]);
    expect(c.status).toBe('reconnecting');
    expect(statuses).toEqual(['reconnecting']);
    vi.advanceTimersByTime(499);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.last().accept();
    expect(c.status).toBe('open');
    expect(c.lastError).toBeNull();
    // The timer of an attempt that opened never fires.
    vi.advanceTimersByTime(10_000);
    expect(FakeSocket.all).toHaveLength(2);
    c.close();
  });

  it('counts a getToken() that never settles against connectTimeout', async () => {
    let calls = 0;
    const c = fakeClient({ connectTimeout: 1000, reconnect: { delay: 10 }, getToken: () => { calls++; return calls === 1 ? new Promise<string>(() => {}) : 'tok'; } });
    await vi.advanceTimersByTimeAsync(1000);
    expect(c.lastError).toMatchObject({ code: 'connect_timeout' });
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toBe(2);
    expect(new URL(FakeSocket.last().url).searchParams.get('token')).toBe('tok');
    c.close();
  });

  it('replaces an attempt still connecting when the browser comes back online', () => {
    const target = browserEvents();
    const c = fakeClient({ connectTimeout: 60_000, heartbeat: { interval: 1e9 } });
    const stuck = FakeSocket.last();
    target.dispatchEvent(new Event('online'));
    expect(FakeSocket.all).toHaveLength(2);
    expect(stuck.closedWith).not.toBeNull();
    stuck.drop(); // its late close event changes nothing
    FakeSocket.last().accept();
    expect(c.status).toBe('open');
    vi.advanceTimersByTime(120_000);
    expect(FakeSocket.all).toHaveLength(2);
    c.dispose();
  });

  it('replaces an attempt still connecting when the page becomes visible', () => {
    const target = browserEvents();
    const document = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    vi.stubGlobal('document', document);
    const c = fakeClient({ connectTimeout: 60_000 });
    document.visibilityState = 'visible';
    document.dispatchEvent(new Event('visibilitychange'));
    expect(FakeSocket.all).toHaveLength(2);
    expect(FakeSocket.all[0]!.closedWith).not.toBeNull();
    FakeSocket.last().accept();
    // Visible again while open: a heartbeat probe, not a new connection.
    document.dispatchEvent(new Event('visibilitychange'));
    expect(FakeSocket.all).toHaveLength(2);
    expect(FakeSocket.last().frames('ping')).toHaveLength(1);
    c.dispose();
    void target;
  });

  it('shows an error naming the URL and the likely fixes when a connection closes before it opens, and clears it on open', () => {
    const c = fakeClient({ reconnect: { delay: 10 } });
    const errors: Error[] = [];
    c.events.on('error', (e) => errors.push(e));
    FakeSocket.last().drop(1006);
    expect(c.lastError).toMatchObject({ code: 'connect_failed' });
    expect(c.lastError!.message).toContain('ws://hub.test/ws');
    expect(c.lastError!.message).toContain('origins');
    expect(errors).toEqual([c.lastError]);
    vi.advanceTimersByTime(10);
    FakeSocket.last().accept();
    expect(c.lastError).toBeNull();
    c.close();
  });

  it('never puts the token in an error message', async () => {
    const c = fakeClient({ getToken: () => 'secret-token', reconnect: { delay: 10 } });
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.last().drop(1006);
    expect(c.lastError?.message).not.toContain('secret-token');
    c.close();
  });
});

describe('options', () => {
  it('throws a TypeError naming an unknown option and the closest valid one', () => {
    expect(() => new LiveClient('ws://x/ws', { WebSocket: FakeSocket, conectTimeout: 5 } as never)).toThrow(/unknown option 'conectTimeout'.*'connectTimeout'/);
  });

  it.each([
    ['connectTimeout = 0', { connectTimeout: 0 }],
    ['reconnect.delay = -1', { reconnect: { delay: -1 } }],
    ['ackTimeout = NaN', { ackTimeout: Number.NaN }],
  ] as const)('throws a TypeError for %s', (_name, options) => {
    expect(() => new LiveClient('ws://x/ws', { WebSocket: FakeSocket, ...options })).toThrow(TypeError);
  });

  it('takes an option given as undefined as its default', () => {
    const c = fakeClient({ connectTimeout: undefined, autoConnect: undefined });
    expect(FakeSocket.all).toHaveLength(1); // autoConnect defaulted to true
    vi.advanceTimersByTime(9999);
    expect(c.lastError).toBeNull();
    vi.advanceTimersByTime(1);
    expect(c.lastError).toMatchObject({ code: 'connect_timeout' });
    c.close();
  });
});

describe('errors name their channel', () => {
  it('rejects a refused publish with a LiveError whose channel is the publish\'s, named in its message', async () => {
    const c = fakeClient();
    FakeSocket.last().accept('livehub.v1');
    const done = c.publish('orders', 'created', 1);
    const frame = FakeSocket.last().frames('publish')[0];
    FakeSocket.last().deliver({ type: 'error', code: 'forbidden', message: 'publishing to this channel is not allowed', id: frame.id });
    const error = await done.catch((e: LiveError) => e);
    expect(error).toBeInstanceOf(LiveError);
    expect(error).toMatchObject({ code: 'forbidden', channel: 'orders' });
    expect((error as Error).message).toBe('publishing to this channel is not allowed (channel "orders")');
    c.close();
  });

  it('does not name the channel twice when the server\'s message already does', () => {
    expect(new LiveError('forbidden', 'cannot subscribe to "a"', 'a').message).toBe('cannot subscribe to "a"');
    expect(new LiveError('bad_json', 'not JSON').channel).toBeUndefined();
  });

  it('reports an error frame about a channel with that channel', () => {
    const c = fakeClient();
    FakeSocket.last().accept('livehub.v1');
    FakeSocket.last().deliver({ type: 'error', code: 'unavailable', message: 'retry later', channel: 'x' });
    expect(c.lastError).toMatchObject({ code: 'unavailable', channel: 'x', message: 'retry later (channel "x")' });
    c.close();
  });
});

describe('publish data that JSON cannot carry', () => {
  it.each([
    ['a BigInt', 10n],
    ['a cycle', (() => { const o: Record<string, unknown> = {}; o.self = o; return o; })()],
    ['a function', () => 1],
  ])('throws a TypeError naming the channel for %s, and queues nothing', (_what, data) => {
    const c = fakeClient();
    FakeSocket.last().accept();
    expect(() => c.publish('orders', 'created', data)).toThrow(TypeError);
    expect(() => c.publish('orders', 'created', data)).toThrow(/cannot publish to "orders": the data cannot be sent as JSON/);
    expect(FakeSocket.last().frames('publish')).toEqual([]);
    c.close();
  });
});
