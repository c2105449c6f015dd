import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resetDeprecationWarnings } from '../../client/deprecated.js';
import { fakeClient, FakeSocket } from './fake-socket.js';

let warn: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  FakeSocket.all = [];
  resetDeprecationWarnings();
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('one listener idiom: on returns the function that stops, off stops by reference', () => {
  it('client.on / client.off listen to a channel, and what on returns stops it', () => {
    const c = fakeClient();
    FakeSocket.last().accept();
    const got: unknown[] = [];
    const handler = (data: unknown) => got.push(data);
    const stop = c.on('room', handler);
    FakeSocket.last().deliver({ channel: 'room', type: 'said', data: 1 });
    stop();
    FakeSocket.last().deliver({ channel: 'room', type: 'said', data: 2 });
    c.on('room', handler);
    FakeSocket.last().deliver({ channel: 'room', type: 'said', data: 3 });
    c.off('room', handler);
    FakeSocket.last().deliver({ channel: 'room', type: 'said', data: 4 });
    expect(got).toEqual([1, 3]);
    expect(warn).not.toHaveBeenCalled();
  });

  it('client.events.on / off listen to the client\'s own events, apart from a channel of the same name', () => {
    const c = fakeClient();
    const opened: string[] = [];
    const onOpen = () => opened.push('event');
    const stop = c.events.on('open', onOpen);
    c.on('open', () => opened.push('channel message'));
    FakeSocket.last().accept();
    FakeSocket.last().deliver({ channel: 'open', type: 'x', data: null });
    expect(opened).toEqual(['event', 'channel message']);
    const statuses: string[] = [];
    const onStatus = (status: string) => statuses.push(status);
    c.events.on('status', onStatus);
    c.events.off('status', onStatus);
    stop();
    FakeSocket.last().drop();
    expect(statuses).toEqual([]);
    expect(opened).toHaveLength(2);
    expect(warn).not.toHaveBeenCalled();
  });

  it('client.events cannot emit: it is the listening half only', () => {
    const c = fakeClient({ autoConnect: false });
    expect(Object.keys(c.events).sort()).toEqual(['off', 'on']);
    expect(() => c.events.on('open', 'nope' as never)).toThrow(TypeError);
  });

  it('client.direct.on / off listen to direct messages by type', () => {
    const c = fakeClient();
    FakeSocket.last().accept();
    const got: unknown[] = [];
    const handler = (data: unknown) => got.push(data);
    const stop = c.direct.on('notice', handler);
    FakeSocket.last().deliver({ type: 'notice', data: 1 });
    stop();
    FakeSocket.last().deliver({ type: 'notice', data: 2 });
    c.direct.on('notice', handler);
    FakeSocket.last().deliver({ type: 'notice', data: 3 });
    c.direct.off('notice', handler);
    FakeSocket.last().deliver({ type: 'notice', data: 4 });
    expect(got).toEqual([1, 3]);
    expect(warn).not.toHaveBeenCalled();
  });
});

describe('deprecated listener names still work and warn once, naming the new name', () => {
  it('client.addEventListener() listens like client.events.on() and returns the function that stops', () => {
    const c = fakeClient();
    const statuses: string[] = [];
    const stop = c.addEventListener('status', (status) => statuses.push(status));
    c.addEventListener('open', () => statuses.push('opened'));
    FakeSocket.last().accept();
    stop();
    FakeSocket.last().drop();
    expect(statuses).toEqual(['open', 'opened']);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(/client\.addEventListener\(\) is deprecated, use client\.events\.on\(\)/);
  });

  it('client.onMessage() listens like client.direct.on() and returns the function that stops', () => {
    const c = fakeClient();
    FakeSocket.last().accept();
    const got: unknown[] = [];
    const stop = c.onMessage('notice', (data) => got.push(data));
    c.onMessage('*', (data) => got.push(['any', data]));
    FakeSocket.last().deliver({ type: 'notice', data: 1 });
    stop();
    FakeSocket.last().deliver({ type: 'notice', data: 2 });
    expect(got).toEqual([1, ['any', 1], ['any', 2]]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(/client\.onMessage\(\) is deprecated, use client\.direct\.on\(\)/);
  });

  it('warns once per process however many clients use the old name', () => {
    for (let i = 0; i < 3; i++) fakeClient({ autoConnect: false }).addEventListener('open', () => {});
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
