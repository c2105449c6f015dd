import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveClient, type LiveClientOptions } from '../../client/index.js';
import { resetDeprecationWarnings } from '../../client/deprecated.js';
import { FLAT } from '../../client/options-flat.js';
import { fakeClient, FakeSocket } from './fake-socket.js';

let warn: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  FakeSocket.all = [];
  resetDeprecationWarnings();
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const make = (options: LiveClientOptions) => new LiveClient('ws://x/ws', { WebSocket: FakeSocket, ...options });

/** Ms from a dropped connection to the next attempt (random 0.5: half the backoff's cap). */
function firstBackoff(c: LiveClient): number {
  FakeSocket.last().accept();
  FakeSocket.last().drop();
  const before = FakeSocket.all.length;
  let waited = 0;
  while (FakeSocket.all.length === before && waited < 100_000) { vi.advanceTimersByTime(1); waited++; }
  c.close();
  return waited;
}

describe('grouped client options', () => {
  it('reconnect: { delay, maxDelay } sets the backoff, and reconnect: false never reconnects', () => {
    expect(firstBackoff(fakeClient({ reconnect: { delay: 300 }, random: () => 0.5 }))).toBe(150);
    expect(firstBackoff(fakeClient({ reconnect: { delay: 300, maxDelay: 100 }, random: () => 0.5 }))).toBe(50);
    const off = fakeClient({ reconnect: false });
    FakeSocket.last().accept();
    FakeSocket.last().drop();
    vi.advanceTimersByTime(60_000);
    expect(off.status).toBe('closed');
  });

  it('reconnect: true and a group given as undefined take the defaults', () => {
    expect(firstBackoff(fakeClient({ reconnect: true, heartbeat: undefined, random: () => 0.5 }))).toBe(250);
  });

  it('heartbeat: { interval, timeout } pings after interval of silence and drops after timeout more', () => {
    const c = fakeClient({ heartbeat: { interval: 1000, timeout: 200 } });
    FakeSocket.last().accept();
    vi.advanceTimersByTime(1000);
    expect(FakeSocket.last().frames('ping')).toHaveLength(1);
    vi.advanceTimersByTime(200);
    expect(c.status).toBe('reconnecting');
    c.close();
  });

  it('outbox: { maxSize, overflow } bounds what waits for the connection', async () => {
    const c = fakeClient({ autoConnect: false, outbox: { maxSize: 1, overflow: 'reject' } });
    void c.publish('room', 'said', 1).catch(() => {});
    await expect(c.publish('room', 'said', 2)).rejects.toMatchObject({ code: 'queue_full' });
    c.close();
  });

  it.each([
    [{ reconnect: { delay: 0 } }, /reconnect\.delay must be a positive number/],
    [{ reconnect: { maxAttempts: 1.5 } }, /reconnect\.maxAttempts must be an integer/],
    [{ heartbeat: { timeout: -1 } }, /heartbeat\.timeout must be a positive number/],
    [{ outbox: { overflow: 'drop-newest' } }, /outbox\.overflow must be 'drop-oldest' or 'reject'/],
    [{ outbox: { maxSize: 0 } }, /outbox\.maxSize must be an integer of at least 1/],
    [{ reconnect: 'yes' }, /option reconnect must be true, false or \{ delay, maxDelay, maxAttempts, restartWindow \}/],
    [{ reconnect: { restartWindow: -1 } }, /reconnect\.restartWindow must be a number of ms >= 0/],
    [{ reconnect: { restartWindow: Infinity } }, /reconnect\.restartWindow must be a number of ms >= 0/],
    [{ heartbeat: { allowance: 0 } }, /heartbeat\.allowance must be a positive number/],
    [{ heartbeat: 25_000 }, /option heartbeat must be \{ interval, timeout, allowance \}/],
    [{ reconnect: { dealy: 5 } }, /unknown option 'dealy' for new LiveClient\(\) option reconnect; did you mean 'delay'\?/],
    [{ conectTimeout: 5 }, /unknown option 'conectTimeout'.*'connectTimeout'/],
  ])('throws a TypeError at once for %j', (options, message) => {
    expect(() => make({ autoConnect: false, ...(options as LiveClientOptions) })).toThrow(message);
  });
});

describe('deprecated flat client options', () => {
  it.each(Object.entries(FLAT))('%s is still accepted as %j and warns once naming the grouped field', (flat, [group, field]) => {
    const value = { storage: { getItem: () => null, setItem() {}, removeItem() {} }, storageKey: 'k', queueOverflow: 'reject' }[flat] ?? 1000;
    make({ autoConnect: false, [flat]: value }).close();
    make({ autoConnect: false, [flat]: value }).close();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toContain(`the option ${flat} is deprecated, use ${group}: { ${field} } instead`);
  });

  it('maps each flat name onto its group', async () => {
    expect(firstBackoff(fakeClient({ reconnectDelay: 300, random: () => 0.5 }))).toBe(150);
    expect(firstBackoff(fakeClient({ reconnectDelay: 300, maxReconnectDelay: 100, random: () => 0.5 }))).toBe(50);
    const beating = fakeClient({ heartbeatInterval: 1000, heartbeatTimeout: 200 });
    FakeSocket.last().accept();
    vi.advanceTimersByTime(1200);
    expect(beating.status).toBe('reconnecting');
    beating.close();
    const queued = fakeClient({ autoConnect: false, maxQueuedPublishes: 1, queueOverflow: 'reject' });
    void queued.publish('room', 'said', 1).catch(() => {});
    await expect(queued.publish('room', 'said', 2)).rejects.toMatchObject({ code: 'queue_full' });
    queued.close();
  });

  it.each(Object.entries(FLAT))('%s given with its grouped field %j is a TypeError naming both', (flat, [group, field]) => {
    expect(() => make({ autoConnect: false, [flat]: 1, [group]: { [field]: 1 } })).toThrow(`options ${flat} and ${group}.${field} are the same option`);
  });
});
