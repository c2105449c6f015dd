import { effectScope } from '@vue/runtime-core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventLog, RealtimeFeed } from '../../client/core/index.js';
import { reloadOn } from '../../client/inertia.js';
import { useChannel, useRealtime } from '../../client/vue.js';
import type { HubMessage } from '../../pkg/protocol/index.js';
import { fakeClient, FakeSocket } from './fake-socket.js';

let warn: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  FakeSocket.all = [];
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => {
  vi.restoreAllMocks();
  expect(warn).not.toHaveBeenCalled();
});

const message = (type: string, data: unknown = null): HubMessage => ({ channel: 'room', type, data });

describe('a message\'s type is called type', () => {
  it('publish(channel, type, data) sends the type in the wire\'s publish frame field event', () => {
    const c = fakeClient();
    FakeSocket.last().accept();
    c.publish('room', 'said', { text: 'hi' }).catch(() => {}); // never acked: rejected by close()
    expect(FakeSocket.last().frames('publish')).toEqual([{ type: 'publish', channel: 'room', event: 'said', data: { text: 'hi' }, id: expect.any(String) }]);
    c.close();
  });

  it('a logged message has type, and event as its deprecated twin', () => {
    const entry = new EventLog().push(message('said', 1));
    expect(entry).toMatchObject({ type: 'said', event: 'said', data: 1, channel: 'room' });
  });

  it('useRealtime keeps the types given as types, or as the deprecated events, and refuses both', () => {
    const c = fakeClient();
    FakeSocket.last().accept();
    const scope = effectScope();
    const [byTypes, byEvents] = scope.run(() => [
      useRealtime({ channel: 'room', types: ['said'], client: c }),
      useRealtime({ channel: 'room', events: ['said'], client: c }),
    ])!;
    FakeSocket.last().deliver({ ...message('said', 1), offset: 1 });
    FakeSocket.last().deliver({ ...message('typed', 2), offset: 2 });
    expect(byTypes.events.value.map((e) => e.type)).toEqual(['said']);
    expect(byEvents.events.value.map((e) => e.type)).toEqual(['said']);
    expect(() => new RealtimeFeed({ channel: 'room', types: ['a'], events: ['b'] })).toThrow(/options types and events are the same option/);
    expect(() => new RealtimeFeed({ channel: 'room', types: 'said' as never })).toThrow(/types must be an array of message types/);
    scope.stop();
    c.close();
  });

  it('useChannel dispatches by type with { types }, and with the deprecated { events }', () => {
    const c = fakeClient();
    FakeSocket.last().accept();
    const seen: unknown[] = [];
    const scope = effectScope();
    scope.run(() => {
      useChannel('room', { types: { said: (data) => seen.push(['types', data]) } }, { client: c });
      useChannel('room', { events: { said: (data) => seen.push(['events', data]) } }, { client: c });
    });
    FakeSocket.last().deliver(message('said', 1));
    FakeSocket.last().deliver(message('typed', 2));
    expect(seen).toEqual([['types', 1], ['events', 1]]);
    scope.stop();
    c.close();
  });

  it('reloadOn reloads on the types given as types, or as the deprecated events, and refuses both', async () => {
    const handlers = new Map<string, (data: unknown, message: HubMessage) => void>();
    const live = { on: (channel: string, handler: (data: unknown, message: HubMessage) => void) => { handlers.set(channel, handler); return () => handlers.delete(channel); } };
    for (const key of ['types', 'events'] as const) {
      const router = { reload: vi.fn() };
      const stop = reloadOn('room', { [key]: ['said'], live: live as never, router });
      handlers.get('room')!(null, message('typed'));
      handlers.get('room')!(null, message('said'));
      await vi.waitFor(() => expect(router.reload).toHaveBeenCalledTimes(1));
      stop();
    }
    expect(() => reloadOn('room', { types: [], events: [], live: live as never })).toThrow(/options types and events are the same option/);
  });
});
