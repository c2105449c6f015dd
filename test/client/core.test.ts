import { afterEach, describe, expect, it, vi } from 'vitest';
import { Channels, ConnectionStore, DeferredCount, EventLog, IDLE_STATE, RealtimeFeed } from '../../client/core/index.js';
import type { MessageHandler } from '../../client/index.js';
import type { HubMessage } from '../../pkg/protocol/index.js';

afterEach(() => { vi.useRealTimers(); });

/** A client double recording what the core asks of it. */
function fakeClient() {
  const calls: string[] = [];
  const handlers = new Map<string, MessageHandler<never>>();
  const listeners = new Map<string, Set<(...args: never[]) => void>>();
  const client = {
    status: 'idle' as string,
    lastError: null as Error | null,
    on(channel: string, handler: MessageHandler<never>) { calls.push(`on ${channel}`); handlers.set(channel, handler); return () => client.off(channel); },
    off(channel: string) { calls.push(`off ${channel}`); handlers.delete(channel); },
    events: {
      on(event: string, listener: (...args: never[]) => void) {
        const set = listeners.get(event) ?? new Set();
        listeners.set(event, set);
        set.add(listener);
        return () => { set.delete(listener); };
      },
      off(event: string, listener: (...args: never[]) => void) { listeners.get(event)?.delete(listener); },
    },
    emit(event: string, ...args: unknown[]) { for (const l of listeners.get(event) ?? []) (l as (...a: unknown[]) => void)(...args); },
    deliver(message: HubMessage) { (handlers.get(message.channel) as MessageHandler | undefined)?.(message.data, message); },
  };
  return { client, calls };
}

describe('client core', () => {
  it('DeferredCount stops only after the delay, and a holder coming back in time keeps it running', () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const count = new DeferredCount(() => log.push('start'), () => log.push('stop'), 100);
    count.acquire();
    count.release();
    vi.advanceTimersByTime(50);
    count.acquire();
    vi.advanceTimersByTime(200);
    expect(log).toEqual(['start']);
    count.release();
    count.release(); // one release too many changes nothing
    vi.advanceTimersByTime(100);
    expect(log).toEqual(['start', 'stop']);
  });

  it('Channels holds one client handler per channel for many listeners, and lets go after the last one', () => {
    vi.useFakeTimers();
    const { client, calls } = fakeClient();
    const channels = new Channels(client as never, 100);
    const seen: unknown[] = [];
    const offA = channels.listen('c', (data) => seen.push(['a', data]));
    const offB = channels.listen('c', (data) => seen.push(['b', data]));
    client.deliver({ channel: 'c', type: 't', data: 1 });
    offA();
    offA();
    client.deliver({ channel: 'c', type: 't', data: 2 });
    offB();
    vi.advanceTimersByTime(99);
    expect(calls).toEqual(['on c']);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual(['on c', 'off c']);
    expect(seen).toEqual([['a', 1], ['b', 1], ['b', 2]]);
  });

  it('"*" listeners get every message the connection receives', () => {
    const { client } = fakeClient();
    const channels = new Channels(client as never);
    const seen: string[] = [];
    channels.listen('*', (_data, message) => seen.push(message.channel));
    client.emit('message', { channel: 'a', type: 't', data: 1 });
    client.emit('message', { channel: '*', type: 't', data: 2 });
    expect(seen).toEqual(['a', '*']);
  });

  it('EventLog keeps the newest max events in a new frozen array on each change', () => {
    const log = new EventLog<number>(2);
    const first = log.getSnapshot();
    for (const n of [1, 2, 3]) log.push({ channel: 'c', type: 't', data: n });
    const snapshot = log.getSnapshot();
    expect(snapshot.map((e) => e.data)).toEqual([2, 3]);
    expect(snapshot).not.toBe(first);
    expect(Object.isFrozen(snapshot)).toBe(true);
    expect(() => new EventLog(0)).toThrow(TypeError);
  });

  it('ConnectionStore returns the same snapshot until the status or the error changes, and idle before a client', () => {
    const { client } = fakeClient();
    let resolved: typeof client | null = null;
    const store = new ConnectionStore(() => resolved as never);
    expect(store.getSnapshot()).toBe(IDLE_STATE);
    expect(store.subscribe(() => {})).toBeTypeOf('function');
    resolved = client;
    let changes = 0;
    store.subscribe(() => changes++);
    const before = store.getSnapshot();
    client.emit('status', 'idle');
    expect(store.getSnapshot()).toBe(before);
    client.status = 'open';
    client.emit('status', 'open');
    expect(store.getSnapshot()).toEqual({ status: 'open', connected: true, error: null });
    expect(changes).toBe(1);
    expect(store.getServerSnapshot()).toBe(IDLE_STATE);
  });

  it('RealtimeFeed rejects unknown options and bad channels with a TypeError', () => {
    expect(() => new RealtimeFeed({ channel: 'a', evnts: [] } as never)).toThrow(/unknown option 'evnts'/);
    expect(() => new RealtimeFeed({ channel: [] })).toThrow(/channel must be/);
    expect(() => new RealtimeFeed({ channel: 'a', events: 'x' } as never)).toThrow(/events must be/);
  });
});
