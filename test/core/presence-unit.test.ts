import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryEngine, type Engine } from '../../pkg/engine/index.js';
import { members, Presence, userSet } from '../../pkg/core/presence.js';

/** A connection as presence sees it. */
function client(id: string, userId: string | null) {
  return { id, identity: userId === null ? null : { userId }, request: { headers: {} }, presence: null as Map<string, string> | null };
}
type FakeClient = ReturnType<typeof client>;

function setup({ presenceTtl = 3000, presenceInfo, engine = new MemoryEngine() }: { presenceTtl?: number; presenceInfo?: (...args: unknown[]) => unknown; engine?: Engine } = {}) {
  const published: Array<[string, string, unknown]> = [];
  const changed: Array<[string, string, boolean]> = [];
  const replies: Array<[string, unknown]> = [];
  const reports: Array<[string, string, string]> = [];
  const clients: FakeClient[] = [];
  const host = {
    options: { presenceTtl, presenceInfo },
    reporter: { report: (level: string, code: string, message: string) => { reports.push([level, code, message]); }, error: () => {} },
    publish: (channel: string, type: string, data?: unknown) => { published.push([channel, type, data]); },
    presenceChanged: (channel: string, userId: string, joined: boolean) => { changed.push([channel, userId, joined]); },
    reply: (c: FakeClient, reply: unknown) => { replies.push([c.id, reply]); },
  };
  const presence = new Presence(engine, host as never, () => clients as never);
  cleanups.push(() => { presence.close(); (engine as MemoryEngine).close?.(); });
  return { presence, engine, published, changed, replies, reports, clients, as: (c: FakeClient) => c as never };
}

let cleanups: Array<() => void> = [];
beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { cleanups.forEach((c) => c()); cleanups = []; vi.useRealTimers(); });

describe('members', () => {
  it('groups connections by user: one member each, counting connections, with the latest status and the first info', () => {
    expect(members([
      { clientId: 'c1', userId: 'ada', status: 'online', info: { name: 'Ada' } },
      { clientId: 'c2', userId: 'bob', status: 'online' },
      { clientId: 'c3', userId: 'ada', status: 'away', info: { name: 'other' } },
    ])).toEqual([
      { userId: 'ada', status: 'away', connections: 2, info: { name: 'Ada' } },
      { userId: 'bob', status: 'online', connections: 1 },
    ]);
  });
});

describe('Presence', () => {
  it('announces a user\'s first connection to a presence channel with its status and info, and lists the members to it', () => {
    const { presence, published, changed, replies, as } = setup({ presenceInfo: (identity) => ({ name: (identity as { userId: string }).userId.toUpperCase() }) });
    const ada = client('c1', 'ada');
    presence.join(as(ada), 'presence-room');
    expect(published).toEqual([['presence-room', 'join', { userId: 'ada', status: 'online', info: { name: 'ADA' } }]]);
    expect(changed).toEqual([['presence-room', 'ada', true]]);
    expect(replies).toEqual([['c1', { type: 'presence', channel: 'presence-room', members: [{ userId: 'ada', status: 'online', connections: 1, info: { name: 'ADA' } }] }]]);
    presence.join(as(client('c2', 'ada')), 'presence-room');
    expect(published).toHaveLength(1);
    expect(changed).toHaveLength(1);
  });

  it('answers a member list request with its id', () => {
    const { presence, replies, as } = setup();
    const ada = client('c1', 'ada');
    presence.join(as(ada), 'presence-room');
    presence.list(as(ada), 'presence-room', 7);
    expect(replies.at(-1)).toEqual(['c1', { type: 'presence', channel: 'presence-room', members: [{ userId: 'ada', status: 'online', connections: 1 }], id: 7 }]);
  });

  it('counts an anonymous connection as a member of its own', () => {
    const { presence, published, as } = setup();
    presence.join(as(client('c9', null)), 'presence-room');
    expect(published).toEqual([['presence-room', 'join', { userId: 'anonymous:c9', status: 'online' }]]);
  });

  it('announces a user leaving only with its last connection, and nothing for a channel the connection was not in', () => {
    const { presence, published, changed, as } = setup();
    const [one, two] = [client('c1', 'ada'), client('c2', 'ada')];
    presence.join(as(one), 'presence-room');
    presence.join(as(two), 'presence-room');
    published.length = 0;
    presence.leave(as(one), 'presence-room');
    expect(published).toEqual([]);
    expect(one.presence).toBeNull();
    presence.leave(as(one), 'presence-room');
    presence.leave(as(two), 'presence-other');
    expect(published).toEqual([]);
    presence.leave(as(two), 'presence-room');
    expect(published).toEqual([['presence-room', 'leave', { userId: 'ada' }]]);
    expect(changed.at(-1)).toEqual(['presence-room', 'ada', false]);
  });

  it('keeps the cluster-wide set of a user\'s connections without announcing it, and only for authenticated connections', () => {
    const { presence, engine, published, changed, as } = setup();
    const ada = client('c1', 'ada');
    presence.register(as(ada));
    presence.register(as(client('c2', null)));
    expect((engine as MemoryEngine).presence(userSet('ada')).map((e) => e.clientId)).toEqual(['c1']);
    expect([...(ada.presence?.keys() ?? [])]).toEqual(['#user:ada']);
    presence.leave(as(ada), userSet('ada'));
    expect((engine as MemoryEngine).presence(userSet('ada'))).toEqual([]);
    expect(published).toEqual([]);
    expect(changed).toEqual([]);
  });

  it('publishes a status change and acknowledges it when asked with an id', () => {
    const { presence, published, replies, engine, as } = setup();
    const ada = client('c1', 'ada');
    presence.join(as(ada), 'presence-room');
    published.length = 0;
    presence.status(as(ada), 'presence-room', 'away', 3);
    presence.status(as(ada), 'presence-room', 'busy');
    expect(published).toEqual([['presence-room', 'update', { userId: 'ada', status: 'away' }], ['presence-room', 'update', { userId: 'ada', status: 'busy' }]]);
    expect(replies.filter(([, r]) => (r as { type: string }).type === 'ack')).toEqual([['c1', { type: 'ack', id: 3 }]]);
    expect((engine as MemoryEngine).presence('presence-room')[0]!.status).toBe('busy');
  });

  it('refreshes its connections every third of presenceTtl, so they never expire while connected', () => {
    const { presence, clients, engine, published, as } = setup({ presenceTtl: 3000 });
    const ada = client('c1', 'ada');
    clients.push(ada);
    presence.join(as(ada), 'presence-room');
    published.length = 0;
    vi.advanceTimersByTime(10_000);
    expect((engine as MemoryEngine).presence('presence-room').map((e) => e.clientId)).toEqual(['c1']);
    expect(published).toEqual([]);
  });

  it('sweeps the connections of another node that stopped refreshing and announces their users\' leave, not for user sets', () => {
    const engine = new MemoryEngine();
    const { presence, clients, published, changed, as } = setup({ presenceTtl: 3000, engine });
    const here = client('c1', 'ada');
    clients.push(here);
    presence.join(as(here), 'presence-room');
    presence.register(as(here));
    // Another node's connections, which nobody refreshes any more.
    engine.addPresence('presence-room', { clientId: 'x1', userId: 'bob', status: 'online' }, 3000);
    engine.addPresence(userSet('bob'), { clientId: 'x1', userId: 'bob', status: 'online' }, 3000);
    published.length = 0;
    vi.advanceTimersByTime(999);
    expect(published).toEqual([]);
    vi.advanceTimersByTime(3001);
    expect(published).toEqual([['presence-room', 'leave', { userId: 'bob' }]]);
    expect(changed.at(-1)).toEqual(['presence-room', 'bob', false]);
    expect(engine.presence('presence-room').map((e) => e.userId)).toEqual(['ada']);
    expect(engine.presence(userSet('bob'))).toEqual([]);
  });

  it('refreshes no more often than every 100 ms, however short presenceTtl is', () => {
    const engine = new MemoryEngine();
    const spy = vi.spyOn(engine, 'sweepPresence');
    const { presence, clients, as } = setup({ presenceTtl: 30, engine });
    const ada = client('c1', 'ada');
    clients.push(ada);
    presence.join(as(ada), 'presence-room');
    vi.advanceTimersByTime(99);
    expect(spy).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('stops refreshing once closed', () => {
    const engine = new MemoryEngine();
    const spy = vi.spyOn(engine, 'sweepPresence');
    const { presence, clients, as } = setup({ presenceTtl: 3000, engine });
    clients.push(client('c1', 'ada'));
    presence.join(as(clients[0]!), 'presence-room');
    presence.close();
    vi.advanceTimersByTime(10_000);
    expect(spy).not.toHaveBeenCalled();
  });

  it('reports an engine that fails, naming what happens meanwhile, and goes on', () => {
    const engine = new MemoryEngine();
    vi.spyOn(engine, 'addPresence').mockImplementation(() => { throw new Error('engine down'); });
    const { presence, reports, published, as } = setup({ engine });
    presence.join(as(client('c1', 'ada')), 'presence-room');
    expect(published).toEqual([]);
    expect(reports).toEqual([['error', 'presence_failed', 'livehub: a presence update failed: engine down; members may be out of date until the next refresh']]);
  });
});
