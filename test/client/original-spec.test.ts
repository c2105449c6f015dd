import { effectScope, nextTick, ref } from '@vue/runtime-core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useLiveUpdate } from '../../client/vue.js';

/**
 * The cases of the Go hub's own `useLiveUpdate` spec, run against livehub's `useLiveUpdate` with a
 * socket that, like that hub, selects no subprotocol. Handlers are checked on their first argument
 * (livehub also passes the whole message as the second).
 */

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

class MockSocket {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  readyState = CONNECTING;
  /** The original hub selects no subprotocol. */
  protocol = '';
  sent: string[] = [];

  constructor(public url: string) {
    setTimeout(() => {
      this.readyState = OPEN;
      this.onopen?.({ type: 'open' });
    }, 0);
  }

  send(data: string) {
    this.sent.push(data);
  }

  close() {
    this.readyState = CLOSED;
    this.onclose?.({ code: 1006, reason: '' });
  }

  simulateMessage(data: unknown) {
    this.onmessage?.({ data: JSON.stringify(data) });
  }
}

let sockets: MockSocket[] = [];
const last = () => sockets.at(-1)!;
const scopes: Array<ReturnType<typeof effectScope>> = [];
const settle = async () => { await nextTick(); await new Promise((resolve) => setTimeout(resolve, 10)); };

function live(options: Parameters<typeof useLiveUpdate>[1] = {}) {
  const scope = effectScope();
  scopes.push(scope);
  return scope.run(() => useLiveUpdate('ws://localhost:8080/ws', options))!;
}

beforeEach(() => {
  sockets = [];
  (globalThis as { WebSocket?: unknown }).WebSocket = vi.fn(function (url: string) {
    const socket = new MockSocket(url);
    sockets.push(socket);
    return socket;
  });
});

afterEach(() => {
  for (const scope of scopes.splice(0)) scope.stop();
  delete (globalThis as { WebSocket?: unknown }).WebSocket;
  vi.restoreAllMocks();
});

describe('useLiveUpdate against a hub of the original protocol', () => {
  it('establishes the WebSocket connection', async () => {
    const { connected } = live();
    await settle();
    expect(connected.value).toBe(true);
  });

  it('subscribes with the original frame', async () => {
    const { subscribe } = live();
    await settle();
    subscribe('test-channel');
    await nextTick();
    expect(last().sent).toContainEqual(JSON.stringify({ type: 'subscribe', channel: 'test-channel' }));
  });

  it('unsubscribes with the original frame', async () => {
    const { subscribe, unsubscribe } = live();
    await settle();
    subscribe('test-channel');
    unsubscribe('test-channel');
    await nextTick();
    expect(last().sent).toContainEqual(JSON.stringify({ type: 'unsubscribe', channel: 'test-channel' }));
  });

  it('receives and handles messages', async () => {
    const { on } = live();
    await settle();
    const handler = vi.fn();
    on('test-channel', handler);
    last().simulateMessage({ channel: 'test-channel', type: 'update', data: { id: 123, name: 'Test' } });
    await nextTick();
    expect(handler.mock.calls[0]![0]).toEqual({ id: 123, name: 'Test' });
  });

  it('calls every handler of a channel', async () => {
    const { on } = live();
    await settle();
    const [first, second] = [vi.fn(), vi.fn()];
    on('test-channel', first);
    on('test-channel', second);
    last().simulateMessage({ channel: 'test-channel', type: 'update', data: { value: 42 } });
    await nextTick();
    expect(first.mock.calls[0]![0]).toEqual({ value: 42 });
    expect(second.mock.calls[0]![0]).toEqual({ value: 42 });
  });

  it('removes a handler with off', async () => {
    const { on, off } = live();
    await settle();
    const handler = vi.fn();
    on('test-channel', handler);
    off('test-channel', handler);
    last().simulateMessage({ channel: 'test-channel', type: 'update', data: { value: 42 } });
    await nextTick();
    expect(handler).not.toHaveBeenCalled();
  });

  it('reconnects after a disconnect', async () => {
    const { connected } = live({ reconnect: true, reconnectDelay: 10 });
    await settle();
    expect(connected.value).toBe(true);
    sockets[0]!.close();
    await nextTick();
    expect(connected.value).toBe(false);
    await vi.waitFor(() => {
      expect(sockets).toHaveLength(2);
      expect(connected.value).toBe(true);
    }, { timeout: 1000 });
  });

  it('stays disconnected when reconnect is off', async () => {
    const { connected } = live({ reconnect: false });
    await settle();
    last().close();
    await settle();
    expect(connected.value).toBe(false);
    expect(sockets).toHaveLength(1);
  });

  it('closes the socket on disconnect', async () => {
    const { disconnect } = live();
    await settle();
    const close = vi.spyOn(last(), 'close');
    disconnect();
    expect(close).toHaveBeenCalled();
  });

  it('sets error when the open socket reports one', async () => {
    const { error } = live();
    await settle();
    last().onerror?.({ type: 'error' });
    await nextTick();
    expect(error.value).not.toBeNull();
  });

  it('merges updates into reactive state', async () => {
    const { on } = live();
    await settle();
    const state = ref({ id: 1, name: 'Original' });
    on('items', (data) => { Object.assign(state.value, data); });
    last().simulateMessage({ channel: 'items', type: 'update', data: { name: 'Updated' } });
    await nextTick();
    expect(state.value).toEqual({ id: 1, name: 'Updated' });
  });

  it('hands broadcast messages to the "*" handlers', async () => {
    const { on } = live();
    await settle();
    const handler = vi.fn();
    on('*', handler);
    last().simulateMessage({ channel: '*', type: 'announcement', data: 'System message' });
    await nextTick();
    expect(handler.mock.calls[0]![0]).toBe('System message');
  });
});
