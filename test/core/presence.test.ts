import { describe, expect, it } from 'vitest';
import { effectScope } from '@vue/runtime-core';
import { WebSocket } from 'ws';
import { LiveClient, type WebSocketConstructor } from '../../client/index.js';
import { usePresence } from '../../client/vue.js';
import { members } from '../../pkg/core/presence.js';
import { Peer, perTest } from '../helpers.js';

const { start, cleanup } = perTest();

describe('presence on one node', () => {
  it('sends the member list after subscribing, then join, update and leave as messages', async () => {
    const s = await start({ authorize: () => true, presenceInfo: (_identity, clientId) => ({ tag: clientId.slice(-2) }) });
    const ann = await Peer.open(s.url);
    cleanup(() => ann.close());
    ann.send({ type: 'subscribe', channel: 'presence-room' });
    const first = await ann.next((m) => m.type === 'presence');
    expect(first.members).toHaveLength(1);
    expect(first.members[0]).toMatchObject({ status: 'online', connections: 1 });
    expect(first.members[0].info).toHaveProperty('tag');
    const bob = await Peer.open(s.url);
    cleanup(() => bob.close());
    bob.send({ type: 'subscribe', channel: 'presence-room' });
    const list = await bob.next((m) => m.type === 'presence');
    expect(list.members).toHaveLength(2);
    await expect.poll(() => ann.messages.filter((m) => m.type === 'join').length).toBe(2); // hers, then bob's
    const join = ann.messages.filter((m) => m.type === 'join')[1];
    bob.send({ type: 'status', channel: 'presence-room', status: 'busy', id: 1 });
    expect(await ann.next((m) => m.type === 'update')).toMatchObject({ data: { userId: join.data.userId, status: 'busy' } });
    bob.close();
    expect(await ann.next((m) => m.type === 'leave')).toMatchObject({ data: { userId: join.data.userId } });
  });

  it('refuses presence requests and statuses for channels the client is not in', async () => {
    const s = await start({ authorize: () => true });
    const peer = await Peer.open(s.url);
    cleanup(() => peer.close());
    peer.send({ type: 'presence', channel: 'presence-x', id: 'a' });
    expect(await peer.next((m) => m.id === 'a')).toMatchObject({ type: 'error', code: 'forbidden' });
    peer.send({ type: 'status', channel: 'presence-x', status: 'sleepy', id: 'b' });
    expect(await peer.next((m) => m.id === 'b')).toMatchObject({ type: 'error', code: 'bad_request' });
  });

  it('counts a user with two connections once, and keeps them until the last one leaves', () => {
    expect(members([
      { clientId: '1', userId: 'u', status: 'online' },
      { clientId: '2', userId: 'u', status: 'away' },
      { clientId: '3', userId: 'v', status: 'online' },
    ])).toEqual([
      { userId: 'u', status: 'away', connections: 2 },
      { userId: 'v', status: 'online', connections: 1 },
    ]);
  });

  it('keeps usePresence members current from the list and the events', async () => {
    const s = await start({ authorize: () => true });
    const client = new LiveClient(s.url, { WebSocket: WebSocket as unknown as WebSocketConstructor });
    cleanup(() => client.dispose());
    const scope = effectScope();
    const presence = scope.run(() => usePresence('presence-team', { client }))!;
    await expect.poll(() => presence.count.value).toBe(1);
    const other = await Peer.open(s.url);
    other.send({ type: 'subscribe', channel: 'presence-team' });
    await expect.poll(() => presence.count.value).toBe(2);
    await presence.setStatus('away');
    other.close();
    await expect.poll(() => presence.count.value).toBe(1);
    expect(presence.members.value[0]!.status).toBe('away');
    scope.stop();
  });
});

describe('presence when a node closes', () => {
  it('announces the leave of its users to the other nodes as its connections close', async () => {
    const { RedisEngine } = await import('../../pkg/engine/redis.js');
    const { sharedRedisUrl } = await import('../redis.js');
    const url = await sharedRedisUrl();
    const prefix = `presence-close-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const nodes = await Promise.all([0, 1].map(() => start({ logger: false, authorize: () => true, engine: new RedisEngine({ url, prefix }) })));
    const leaving = await Peer.open(nodes[0]!.url);
    const watcher = await Peer.open(nodes[1]!.url);
    watcher.send({ type: 'subscribe', channel: 'presence-room' });
    const own = (await watcher.next((m) => m.channel === 'presence-room' && m.type === 'join')).data.userId;
    leaving.send({ type: 'subscribe', channel: 'presence-room' });
    const joined = await watcher.next((m) => m.channel === 'presence-room' && m.type === 'join' && m.data.userId !== own, 5000);
    await nodes[0]!.hub.close();
    expect(await watcher.next((m) => m.channel === 'presence-room' && m.type === 'leave', 5000)).toMatchObject({ data: { userId: joined.data.userId } });
    watcher.close();
  });
});
