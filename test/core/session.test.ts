import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveOptions, type HubOptions } from '../../pkg/core/options.js';
import { expiries } from '../../pkg/core/expiry.js';
import { Session } from '../../pkg/core/session.js';

/**
 * A transport that records what its session asks. `keeps`: written bytes stay in its buffer
 * (`writableLength`) until `drain()`, as a socket's do when the peer reads slowly; otherwise it
 * takes every write whole.
 */
class FakeTransport {
  readonly name = 'websocket';
  readonly format = { name: 'websocket', encodeMessages: () => null, encodeReply: (json: string) => Buffer.from(json) };
  writable = true;
  writableLength = 0;
  keeps = false;
  closeThrows = false;
  /** Called on each write, as a socket whose write fails at once closes its session. */
  onWrite: (() => void) | null = null;
  writes: Array<{ chunks: string[]; count: number }> = [];
  closes: Array<[number, string]> = [];
  terminated = 0;
  pings = 0;
  drainListeners: Array<() => void> = [];
  frames(): Buffer { return Buffer.alloc(0); }
  write(chunks: readonly Buffer[], count: number): void {
    this.writes.push({ chunks: chunks.map(String), count });
    this.onWrite?.();
    if (this.keeps) for (const chunk of chunks) this.writableLength += chunk.length;
  }
  onceDrain(listener: () => void): void { this.drainListeners.push(listener); }
  offDrain(listener: () => void): void { this.drainListeners = this.drainListeners.filter((l) => l !== listener); }
  ping(): void { this.pings++; }
  close(code: number, reason: string): void {
    if (this.closeThrows) throw new Error('socket gone');
    this.closes.push([code, reason]);
  }
  terminate(): void { this.terminated++; }
  drain(): void {
    this.writableLength = 0;
    for (const listener of this.drainListeners.splice(0)) listener();
  }
}

function setup(hubOptions: HubOptions = {}, { identity = null as { userId: string; expiresAt?: number } | null, remoteAddress = '10.0.0.7' as string | null, watching = true } = {}) {
  const transport = new FakeTransport();
  const calls: unknown[][] = [];
  const counters = { writes: 0, frames: 0, bytes: 0, evictions: 0 };
  const reports: unknown[][] = [];
  const errors: unknown[][] = [];
  const host = {
    options: resolveOptions({ logger: false, ...hubOptions }),
    counters,
    reporter: { report: (...args: unknown[]) => { reports.push(args); }, error: (...args: unknown[]) => { errors.push(args); } },
    receive: (_s: Session, text: string) => { calls.push(['receive', text]); },
    reply: (_s: Session, reply: unknown) => { calls.push(['reply', reply]); },
    unregister: () => { calls.push(['unregister']); },
    closeSession: (_s: Session, code: number, reason: string) => { calls.push(['closeSession', code, reason]); },
    evicted: (_s: Session, why: string) => { calls.push(['evicted', why]); },
    ...(watching ? { pushedBack: () => { calls.push(['pushedBack']); } } : {}),
  };
  const request = { headers: {}, url: '/', method: 'GET', socket: remoteAddress === null ? undefined : { remoteAddress } };
  const session = new Session('n-1', transport as never, request as never, host as never, identity);
  return { session, transport, calls, counters, reports, errors };
}

const frame = (text: string) => Buffer.from(text);

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

describe('a session\'s outbound queue', () => {
  it('writes what was queued in one write, counting frames, messages and bytes', () => {
    const { session, transport, counters } = setup();
    session.enqueue(frame('aaaa'), 2);
    session.enqueue(frame('bb'), 1);
    expect(session.bufferedBytes).toBe(6);
    expect(transport.writes).toEqual([]);
    session.flush(1234);
    expect(transport.writes).toEqual([{ chunks: ['aaaa', 'bb'], count: 3 }]);
    expect(counters).toEqual({ writes: 1, frames: 3, bytes: 6, evictions: 0 });
    expect(session.lastWrite).toBe(1234);
    expect(session.bufferedBytes).toBe(0);
    session.flush(2000);
    expect(transport.writes).toHaveLength(1);
    expect(session.lastWrite).toBe(1234);
  });

  it('counts the transport\'s own buffer as buffered', () => {
    const { session, transport } = setup();
    transport.writableLength = 40;
    session.enqueue(frame('abc'), 1);
    expect(session.bufferedBytes).toBe(43);
  });

  it('writes nothing to a transport that no longer takes writes, or once the session closes', () => {
    const { session, transport } = setup();
    session.enqueue(frame('a'), 1);
    transport.writable = false;
    session.flush();
    expect(transport.writes).toEqual([]);
    transport.writable = true;
    session.closed(1000, 'bye');
    session.enqueue(frame('b'), 1);
    session.enqueueReplay('r', frame('c'), 1);
    session.flush();
    expect(transport.writes).toEqual([]);
    expect(session.bufferedBytes).toBe(0);
  });

  it('speaks the full protocol unless told otherwise', () => {
    expect(setup().session.fullProtocol).toBe(true);
  });

  it('counts as unsent only the part of a replay the transport still holds', () => {
    const { session, transport, calls } = setup({ highWaterMark: 4, sendBuffer: 1, maxBufferedBytes: 1000 });
    session.channels.add('r');
    transport.keeps = true;
    session.enqueueReplay('r', frame('0123456789'), 5);
    session.flush();
    expect(session.state).toBe('open');
    transport.writableLength = 4; // the peer read 6 of its 10 bytes
    session.enqueue(frame('x'), 1);
    session.enqueue(frame('y'), 1);
    session.flush();
    expect(calls).toContainEqual(['evicted', '2 messages and 2 bytes were waiting (sendBuffer 1, maxBufferedBytes 1000), besides replays (0 messages queued, 4 bytes unsent), which do not count']);
  });

  it('writes up to the high-water mark at a time, at least one frame, and writes on while the transport takes writes whole', () => {
    const { session, transport, counters } = setup({ highWaterMark: 10 });
    for (const text of ['aaaaaa', 'bbbbbb', 'cccccc', 'dddddddddddddddd']) session.enqueue(frame(text), 1);
    session.flush();
    expect(transport.writes).toEqual([
      { chunks: ['aaaaaa', 'bbbbbb'], count: 2 },
      { chunks: ['cccccc', 'dddddddddddddddd'], count: 2 },
    ]);
    expect(counters.writes).toBe(2);
    expect(counters.bytes).toBe(34);
  });

  it('waits for drain once the transport is full, pushing back, and writes the rest in order on drain', () => {
    const { session, transport, calls } = setup({ highWaterMark: 10 });
    transport.keeps = true;
    for (const text of ['aaaaaa', 'bbbbbb', 'cccccc']) session.enqueue(frame(text), 1);
    session.flush();
    expect(transport.writes).toEqual([{ chunks: ['aaaaaa', 'bbbbbb'], count: 2 }]);
    expect(calls).toEqual([['pushedBack']]);
    expect(transport.drainListeners).toHaveLength(1);
    session.enqueue(frame('dd'), 1);
    session.flush();
    expect(transport.writes).toHaveLength(1);
    transport.drain();
    expect(transport.writes).toEqual([{ chunks: ['aaaaaa', 'bbbbbb'], count: 2 }, { chunks: ['cccccc', 'dd'], count: 2 }]);
    expect(calls).toEqual([['pushedBack']]);
    vi.advanceTimersByTime(60_000);
    expect(calls).toEqual([['pushedBack']]);
  });

  it('waits for drain when a write filled the transport exactly, even with nothing left', () => {
    const { session, transport, calls } = setup({ highWaterMark: 6 });
    transport.keeps = true;
    session.enqueue(frame('aaaaaa'), 1);
    session.flush();
    expect(calls).toEqual([['pushedBack']]);
    session.enqueue(frame('b'), 1);
    session.flush();
    expect(transport.writes).toHaveLength(1);
    transport.drain();
    expect(transport.writes.map((w) => w.chunks)).toEqual([['aaaaaa'], ['b']]);
  });

  it('writes to a transport just under its high-water mark, no more than the room left each time', () => {
    const { session, transport } = setup({ highWaterMark: 6 });
    transport.writableLength = 5;
    session.enqueue(frame('aaaa'), 1);
    session.enqueue(frame('bbbb'), 1);
    session.flush();
    expect(transport.writes.map((w) => w.chunks)).toEqual([['aaaa'], ['bbbb']]);
  });

  it('ends a write at a frame that fills the room exactly', () => {
    const { session, transport } = setup({ highWaterMark: 6 });
    session.enqueue(frame('aaaaaa'), 1);
    session.enqueue(frame('b'), 1);
    session.flush();
    expect(transport.writes.map((w) => w.chunks)).toEqual([['aaaaaa'], ['b']]);
  });

  it('waits for drain at a transport filled exactly to its high-water mark with frames left', () => {
    const { session, transport, calls } = setup({ highWaterMark: 6 });
    transport.keeps = true;
    session.enqueue(frame('aaaaaa'), 1);
    session.enqueue(frame('b'), 1);
    session.flush();
    expect(transport.writes.map((w) => w.chunks)).toEqual([['aaaaaa']]);
    expect(calls).toEqual([['pushedBack']]);
  });

  it('writes nothing more while pushed back, even when the transport\'s buffer shrank, until drain', () => {
    const { session, transport } = setup({ highWaterMark: 4 });
    transport.keeps = true;
    session.enqueue(frame('aaaa'), 1);
    session.flush();
    transport.writableLength = 1;
    session.enqueue(frame('b'), 1);
    session.flush();
    expect(transport.writes).toHaveLength(1);
    transport.drain();
    expect(transport.writes).toHaveLength(2);
  });

  it('does not push back with nothing queued, whatever a heartbeat left in the transport', () => {
    const { session, transport, calls } = setup({ highWaterMark: 4 });
    transport.keeps = true;
    session.heartbeat(1);
    session.flush();
    expect(calls).toEqual([]);
  });

  it('stops writing, and does not wait for drain, when a write closed the session', () => {
    const { session, transport, calls } = setup({ highWaterMark: 4 });
    transport.keeps = true;
    transport.onWrite = () => session.closed(1006, 'write failed');
    session.enqueue(frame('aaaa'), 1);
    session.enqueue(frame('bbbb'), 1);
    session.flush();
    expect(transport.writes).toHaveLength(1);
    expect(calls).toEqual([['unregister']]);
  });
});

describe('a slow consumer', () => {
  it('is evicted with 4001 once more than sendBuffer messages wait, saying what waited', () => {
    const { session, transport, calls, counters } = setup({ highWaterMark: 4, sendBuffer: 2, maxBufferedBytes: 1000 });
    transport.keeps = true;
    session.enqueue(frame('aaaa'), 1);
    session.flush();
    session.enqueue(frame('b'), 1);
    session.enqueue(frame('c'), 1);
    session.flush();
    expect(session.state).toBe('open');
    session.enqueue(frame('d'), 1);
    session.flush();
    expect(calls).toEqual([['pushedBack'], ['evicted', '3 messages and 7 bytes were waiting (sendBuffer 2, maxBufferedBytes 1000)'], ['unregister']]);
    expect(counters.evictions).toBe(1);
    expect(transport.closes).toEqual([[4001, 'slow consumer']]);
    expect(session.state).toBe('closing');
    expect(session.bufferedBytes).toBe(4);
    expect(transport.drainListeners).toEqual([]);
  });

  it('is evicted once more than maxBufferedBytes wait, the transport\'s buffer included', () => {
    const { session, transport, calls } = setup({ highWaterMark: 4, sendBuffer: 100, maxBufferedBytes: 6 });
    transport.keeps = true;
    session.enqueue(frame('aaaa'), 1);
    session.flush();
    session.enqueue(frame('bb'), 1);
    session.flush();
    expect(session.state).toBe('open');
    session.enqueue(frame('c'), 1);
    session.flush();
    expect(calls).toContainEqual(['evicted', '2 messages and 7 bytes were waiting (sendBuffer 100, maxBufferedBytes 6)']);
  });

  it('is evicted when its transport does not drain within writeWait', () => {
    const { session, transport, calls, counters } = setup({ highWaterMark: 4, writeWait: 500 });
    transport.keeps = true;
    session.enqueue(frame('aaaa'), 1);
    session.flush();
    vi.advanceTimersByTime(499);
    expect(session.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(calls).toEqual([['pushedBack'], ['evicted', 'its websocket connection did not drain for writeWait (500 ms)'], ['unregister']]);
    expect(transport.closes).toEqual([[4001, 'write timeout']]);
    expect(counters.evictions).toBe(1);
  });

  it('is not evicted for a replay it asked for, which does not count while it waits', () => {
    const { session, transport, calls } = setup({ highWaterMark: 4, sendBuffer: 2, maxBufferedBytes: 10 });
    session.channels.add('r');
    transport.keeps = true;
    session.enqueue(frame('aaaa'), 1);
    session.flush();
    session.enqueueReplay('r', frame('0123456789'), 5);
    session.enqueue(frame('b'), 1);
    session.flush();
    expect(session.state).toBe('open');
    session.enqueue(frame('c'), 1);
    session.enqueue(frame('d'), 1);
    session.flush();
    expect(calls).toContainEqual(['evicted', '3 messages and 7 bytes were waiting (sendBuffer 2, maxBufferedBytes 10), besides replays (5 messages queued, 10 bytes unsent), which do not count']);
  });

  it('is counted in full again for a replay of a channel it left', () => {
    const { session, transport, calls } = setup({ highWaterMark: 4, sendBuffer: 3, maxBufferedBytes: 1000 });
    transport.keeps = true;
    session.enqueue(frame('aaaa'), 1);
    session.flush();
    session.enqueueReplay('r', frame('0123456789'), 5);
    session.flush();
    expect(calls).toContainEqual(['evicted', '5 messages and 14 bytes were waiting (sendBuffer 3, maxBufferedBytes 1000)']);
  });
});

describe('backpressure', () => {
  it('needs no listener for the hub\'s backpressure event', () => {
    const { session, transport } = setup({ highWaterMark: 4 }, { watching: false });
    transport.keeps = true;
    session.enqueue(frame('aaaa'), 1);
    session.flush();
    expect(transport.drainListeners).toHaveLength(1);
  });

  it('evicts at once, without waiting for drain, a session already over its limits when the transport fills', () => {
    const { session, transport, calls } = setup({ highWaterMark: 4, sendBuffer: 1 });
    transport.keeps = true;
    for (const text of ['aaaa', 'b', 'c']) session.enqueue(frame(text), 1);
    session.flush();
    expect(calls).toEqual([['evicted', '2 messages and 6 bytes were waiting (sendBuffer 1, maxBufferedBytes 4194304)'], ['unregister']]);
    expect(transport.drainListeners).toEqual([]);
  });

  it('is no longer waited for once the session closed: writeWait then evicts nothing', () => {
    const { session, transport, calls, counters } = setup({ highWaterMark: 4, writeWait: 300 });
    transport.keeps = true;
    session.enqueue(frame('aaaa'), 1);
    session.flush();
    session.close(1000, 'bye');
    vi.advanceTimersByTime(1000);
    expect(calls).toEqual([['pushedBack'], ['unregister']]);
    expect(counters.evictions).toBe(0);
  });
});

describe('the heartbeat', () => {
  it('is written, once encoded, when nothing waits, and counted', () => {
    const { session, transport, counters } = setup();
    expect(session.heartbeat(500)).toBe(true);
    expect(session.heartbeat(600)).toBe(true);
    expect(transport.writes).toEqual([{ chunks: ['{"type":"heartbeat"}'], count: 1 }, { chunks: ['{"type":"heartbeat"}'], count: 1 }]);
    expect(counters).toEqual({ writes: 2, frames: 2, bytes: 40, evictions: 0 });
    expect(session.lastWrite).toBe(600);
  });

  it('is not written while frames wait, the transport is full or pushed back, or the session is not open', () => {
    const { session, transport } = setup({ highWaterMark: 4 });
    session.enqueue(frame('a'), 1);
    expect(session.heartbeat(1)).toBe(false);
    session.flush();
    transport.writableLength = 4;
    expect(session.heartbeat(1)).toBe(false);
    transport.writableLength = 3;
    transport.writable = false;
    expect(session.heartbeat(1)).toBe(false);
    transport.writable = true;
    expect(session.heartbeat(1)).toBe(true);
    transport.keeps = true;
    session.enqueue(frame('bbbb'), 1);
    session.flush();
    transport.writableLength = 0;
    expect(session.heartbeat(1)).toBe(false);
    session.closed();
    expect(session.heartbeat(1)).toBe(false);
    expect(transport.writes).toHaveLength(3);
  });
});

describe('closing', () => {
  it('closes with its code and reason, clamped, unregisters, and drops what waits', () => {
    const { session, transport, calls } = setup();
    session.enqueue(frame('a'), 1);
    session.close(4100, 'x'.repeat(200));
    expect(transport.closes).toEqual([[4100, 'x'.repeat(123)]]);
    expect(session.closeCode).toBe(4100);
    expect(session.closeReason).toBe('x'.repeat(200));
    expect(calls).toEqual([['unregister']]);
    expect(session.bufferedBytes).toBe(0);
    session.close(4200, 'again');
    expect(transport.closes).toHaveLength(1);
  });

  it('with flush, writes what waits first', () => {
    const { session, transport } = setup();
    session.enqueue(frame('error frame'), 1);
    session.close(4000, 'bad', true);
    expect(transport.writes).toEqual([{ chunks: ['error frame'], count: 1 }]);
  });

  it('terminates a connection whose close did not complete within writeWait, and not one that closed', () => {
    const first = setup({ writeWait: 300 });
    first.session.close(1000, 'bye');
    vi.advanceTimersByTime(299);
    expect(first.transport.terminated).toBe(0);
    vi.advanceTimersByTime(1);
    expect(first.transport.terminated).toBe(1);
    const second = setup({ writeWait: 300 });
    second.session.close(1000, 'bye');
    second.session.closed(1000, 'bye');
    vi.advanceTimersByTime(1000);
    expect(second.transport.terminated).toBe(0);
  });

  it('terminates when the transport\'s close throws, and reports it', () => {
    const { session, transport, errors } = setup();
    transport.closeThrows = true;
    session.close(1000, 'bye');
    expect(transport.terminated).toBe(1);
    expect(errors).toEqual([[new Error('socket gone'), 'close_failed', 'livehub: closing n-1 with 1000 threw (socket gone); terminated instead']]);
  });

  it('keeps the first close code and reason it learns, and unregisters once', () => {
    const { session, calls } = setup();
    session.closed(1006, 'gone');
    session.closed(1000, 'later');
    expect([session.state, session.closeCode, session.closeReason]).toEqual(['closed', 1006, 'gone']);
    expect(calls).toEqual([['unregister']]);
    const other = setup();
    other.session.close(4001, 'slow consumer');
    other.session.closed(1006, 'gone');
    expect([other.session.closeCode, other.session.closeReason]).toEqual([4001, 'slow consumer']);
  });

  it('on shutdown, closes at once when nothing waits, and resolves once closed', async () => {
    const { session, transport } = setup();
    let done = false;
    const shut = session.shutdown(1001, 'going away').then(() => { done = true; });
    expect(transport.closes).toEqual([[1001, 'going away']]);
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(false);
    session.closed(1001, 'going away');
    await shut;
    await expect(session.shutdown(1001, 'again')).resolves.toBeUndefined();
    expect(transport.closes).toHaveLength(1);
  });

  it('on shutdown, closes once what waits is handed to the transport, or terminates after writeWait', async () => {
    const { session, transport } = setup({ highWaterMark: 4, writeWait: 400 });
    transport.keeps = true;
    session.enqueue(frame('aaaa'), 1);
    session.flush();
    session.enqueue(frame('b'), 1);
    void session.shutdown(1001, 'going away');
    expect(transport.closes).toEqual([]);
    transport.drain();
    expect(transport.writes.map((w) => w.chunks)).toEqual([['aaaa'], ['b']]);
    expect(transport.closes).toEqual([[1001, 'going away']]);
    const stuck = setup({ highWaterMark: 4, writeWait: 400 });
    stuck.transport.keeps = true;
    stuck.session.enqueue(frame('aaaa'), 1);
    stuck.session.flush();
    stuck.session.enqueue(frame('b'), 1);
    void stuck.session.shutdown(1001, 'going away');
    expect(stuck.transport.terminated).toBe(0);
    await vi.advanceTimersByTimeAsync(400);
    expect(stuck.transport.terminated).toBeGreaterThan(0);
  });

  it('on shutdown while pushed back with nothing queued, waits for drain to close', () => {
    const { session, transport } = setup({ highWaterMark: 4 });
    transport.keeps = true;
    session.enqueue(frame('aaaa'), 1);
    session.flush();
    void session.shutdown(1001, 'going away');
    expect(transport.closes).toEqual([]);
    transport.drain();
    expect(transport.closes).toEqual([[1001, 'going away']]);
  });

  it('on shutdown of a pushed-back session already closing, leaves the close its own timer', async () => {
    const { session, transport } = setup({ highWaterMark: 4, writeWait: 300 });
    transport.keeps = true;
    session.enqueue(frame('aaaa'), 1);
    session.flush();
    session.close(1000, 'bye');
    void session.shutdown(1001, 'going away');
    session.closed(1000, 'bye');
    await vi.advanceTimersByTimeAsync(1000);
    expect(transport.terminated).toBe(0);
  });

  it('on shutdown of a session already closing, waits for its close', async () => {
    const { session, transport } = setup();
    session.close(1000, 'bye');
    let done = false;
    void session.shutdown(1001, 'going away').then(() => { done = true; });
    expect(transport.closes).toEqual([[1000, 'bye']]);
    session.closed();
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
  });

  it('closes with 4002 once its credential\'s expiry passes, and forgets the expiry when it closes first', async () => {
    const expiring = setup({}, { identity: { userId: 'ada', expiresAt: Date.now() + 2500 } });
    const closing = setup({}, { identity: { userId: 'bob', expiresAt: Date.now() + 2500 } });
    const lasting = setup({}, { identity: { userId: 'eve' } });
    expect(expiries.size).toBe(2);
    closing.session.closed(1000, 'bye');
    expect(expiries.size).toBe(1);
    lasting.session.closed(1000, 'bye');
    expect(expiries.size).toBe(1);
    await vi.advanceTimersByTimeAsync(2000);
    expect(expiring.transport.closes).toEqual([]);
    await vi.advanceTimersByTimeAsync(2000); // the expiry wheel's buckets are whole seconds
    expect(expiring.transport.closes).toEqual([[4002, 'token expired']]);
    expect(closing.transport.closes).toEqual([]);
  });

  it('closes with 4002 when its credential expires', () => {
    const { session, transport } = setup();
    session.expire();
    expect(transport.closes).toEqual([[4002, 'token expired']]);
  });
});

describe('what the transport tells a session', () => {
  it('hands an inbound message to the router while open, and notes the peer alive', () => {
    const { session, calls } = setup();
    vi.advanceTimersByTime(1000);
    session.receive('{"type":"ping"}');
    expect(calls).toEqual([['receive', '{"type":"ping"}']]);
    const seen = session.lastSeen;
    vi.advanceTimersByTime(1000);
    session.alive();
    expect(session.lastSeen).toBe(seen + 1000);
    session.closed();
    vi.advanceTimersByTime(1000);
    session.receive('{"type":"ping"}');
    expect(session.lastSeen).toBe(seen + 2000);
    expect(calls.filter((c) => c[0] === 'receive')).toHaveLength(1);
  });

  it('asks the peer for a ping only while open', () => {
    const { session, transport } = setup();
    session.ping();
    session.close(1000, 'bye');
    session.ping();
    expect(transport.pings).toBe(1);
  });

  it('logs a failed connection with its address and the error\'s code', () => {
    const { session, reports } = setup();
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    session.failed(reset);
    session.failed(new Error('odd'));
    expect(reports).toEqual([
      ['warn', 'socket_error', 'livehub: websocket connection n-1 from 10.0.0.7 failed: read ECONNRESET (ECONNRESET); it was closed', reset, 'socket_error:ECONNRESET'],
      ['warn', 'socket_error', 'livehub: websocket connection n-1 from 10.0.0.7 failed: odd; it was closed', new Error('odd'), 'socket_error:odd'],
    ]);
    const unknown = setup({}, { remoteAddress: null });
    unknown.session.failed(new Error('odd'));
    expect(unknown.reports[0]![2]).toBe('livehub: websocket connection n-1 from unknown failed: odd; it was closed');
  });
});

describe('the inbound rate limit', () => {
  it('admits rateLimitBurst at once, answers the first message over it rate_limited, and closes with 4003 after rateLimitBurst drops', () => {
    const { session, calls } = setup({ rateLimit: 10, rateLimitBurst: 3 });
    expect([session.admitInbound(), session.admitInbound(), session.admitInbound()]).toEqual([true, true, true]);
    expect(session.admitInbound()).toBe(false);
    expect(calls).toEqual([['reply', { type: 'error', code: 'rate_limited', message: 'too many messages; slow down' }]]);
    expect(session.admitInbound()).toBe(false);
    expect(calls).toHaveLength(1);
    expect(session.admitInbound()).toBe(false);
    expect(calls).toEqual([['reply', { type: 'error', code: 'rate_limited', message: 'too many messages; slow down' }], ['closeSession', 4003, 'rate limited']]);
    expect(session.dropped).toBe(3);
  });

  it('counts drops per second: a new second answers rate_limited again', () => {
    const { session, calls } = setup({ rateLimit: 1, rateLimitBurst: 2 });
    session.admitInbound();
    session.admitInbound();
    vi.advanceTimersByTime(1001);
    session.admitInbound(); // the token refilled in that second
    expect(session.admitInbound()).toBe(false);
    expect(calls).toHaveLength(1);
    vi.advanceTimersByTime(300);
    expect(session.admitInbound()).toBe(false);
    expect(calls.map((c) => c[0])).toEqual(['reply', 'closeSession']);
    vi.advanceTimersByTime(1001);
    session.admitInbound();
    expect(session.admitInbound()).toBe(false);
    expect(session.dropped).toBe(1);
  });

  it('keeps one window of drops for a whole second', () => {
    const { session, calls } = setup({ rateLimit: 1, rateLimitBurst: 3 });
    vi.advanceTimersByTime(2000);
    session.admitInbound();
    session.admitInbound();
    session.admitInbound();
    expect(session.admitInbound()).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(session.admitInbound()).toBe(true); // the token refilled in that second
    expect(session.admitInbound()).toBe(false);
    expect(session.dropped).toBe(2);
    expect(calls).toHaveLength(1);
  });

  it('applies to the peer\'s pings, which note it alive when admitted', () => {
    const { session } = setup({ rateLimit: 1, rateLimitBurst: 1 });
    vi.advanceTimersByTime(500);
    expect(session.pinged()).toBe(true);
    const seen = session.lastSeen;
    vi.advanceTimersByTime(10);
    expect(session.pinged()).toBe(false);
    expect(session.lastSeen).toBe(seen);
  });
});
