import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { MemoryEngine, type EngineHandlers } from 'livehub/engine';
import { Peer, perTest } from '../helpers.js';
import { clientFor, record, startApp, type AppRouter } from './app.js';

const harness = perTest();
const { cleanup } = harness;
const poll = { timeout: 15_000 };

/** The memory engine, handing the test the hub's handlers so it can reset a stream as an engine would. */
class ResettableEngine extends MemoryEngine {
  handlers!: EngineHandlers;
  override start(handlers: EngineHandlers): void {
    this.handlers = handlers;
    super.start(handlers);
  }
}

/** A hub whose authorize hook lets ann publish anywhere but `locked`, and lets nobody into `private-` channels but ann. */
const policy = {
  authorize: ({ action, channel, identity }: { action: string; channel: string; identity: { userId: string } | null }) =>
    identity?.userId === 'ann' ? channel !== 'locked' : action === 'subscribe' && !channel.startsWith('private-') && !channel.startsWith('presence-'),
};

async function codeOf(call: Promise<unknown>): Promise<string | undefined> {
  const error = await call.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(TRPCClientError);
  return (error as TRPCClientError<AppRouter>).data?.code;
}

describe('livehub/trpc', () => {
  it('a publish through tRPC reaches a WebSocket subscriber, stamped from its user, and answers its position', async () => {
    const app = await startApp(harness, policy);
    const peer = await Peer.open(app.url);
    cleanup(() => peer.close());
    await peer.subscribe('news');
    const ann = clientFor(app.base, 'ann');
    const answer = await ann.realtime.publish.mutate({ channel: 'news', type: 'headline', data: { text: 'hi' } });
    const message = await peer.next((m) => m.type === 'headline');
    expect(message).toMatchObject({ channel: 'news', data: { text: 'hi' }, offset: answer.offset, from: { user: 'ann' } });
    expect(answer).toEqual({ channel: 'news', offset: 1, epoch: expect.any(String) });
    // The app's own procedures stand beside the hub's.
    expect(await ann.greet.query({ name: 'ann' })).toBe('hello ann');
  });

  it('a WebSocket client\'s publish reaches a tRPC subscription, after its subscribed event', async () => {
    const app = await startApp(harness, { authorize: () => true });
    const sub = record(clientFor(app.base, 'bob'), { channel: 'chat' });
    cleanup(() => sub.unsubscribe());
    await expect.poll(() => sub.kinds(), poll).toEqual(['subscribed']);
    const peer = await Peer.open(app.url);
    cleanup(() => peer.close());
    peer.send({ type: 'publish', channel: 'chat', event: 'said', data: 'hello', id: 'p1' });
    await expect.poll(() => sub.kinds(), poll).toEqual(['subscribed', 'message']);
    expect(sub.events[1]!.data).toMatchObject({ kind: 'message', message: { channel: 'chat', type: 'said', data: 'hello', offset: 1 } });
    const { epoch } = (sub.events[0]!.data as { position: { epoch: string } }).position;
    expect(sub.events.map((event) => event.id)).toEqual([`chat 0 ${epoch}`, `chat 1 ${epoch}`]);
  });

  it('a subscription cut mid-stream resumes from its lastEventId: every message once, in order, the replay announced as recovered', async () => {
    const app = await startApp(harness, { authorize: () => true });
    const sub = record(clientFor(app.base, 'bob'), { channel: 'feed' });
    cleanup(() => sub.unsubscribe());
    await expect.poll(() => sub.kinds(), poll).toEqual(['subscribed']);
    for (let i = 1; i <= 3; i++) await app.hub.publish('feed', 'item', i);
    await expect.poll(() => sub.offsets(), poll).toEqual([1, 2, 3]);
    await expect.poll(() => app.hub.info().connections.trpc, poll).toBe(1);
    app.cut();
    // The cut reached the hub: the subscription's session is gone; these are published while it is.
    await expect.poll(() => app.hub.info().connections.trpc ?? 0, poll).toBe(0);
    for (let i = 4; i <= 6; i++) await app.hub.publish('feed', 'item', i);
    await expect.poll(() => sub.offsets(), poll).toEqual([1, 2, 3, 4, 5, 6]);
    for (let i = 7; i <= 8; i++) await app.hub.publish('feed', 'item', i);
    await expect.poll(() => sub.offsets(), poll).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(sub.kinds()).toEqual(['subscribed', 'message', 'message', 'message', 'recovered', ...Array(5).fill('message')]);
    expect(sub.events[4]!.data).toMatchObject({ kind: 'recovered', from: { offset: 3 } });
    expect(sub.events.filter((event) => event.data.kind === 'message').map((event) => (event.data as { message: { data: number } }).message.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(sub.errors).toEqual([]);
  });

  it('a resume that history no longer covers is told as a gap event, then the stream goes on', async () => {
    const app = await startApp(harness, { authorize: () => true, history: { size: 2 } });
    for (let i = 1; i <= 5; i++) await app.hub.publish('feed', 'item', i);
    const { position } = await app.hub.history('feed');
    const sub = record(clientFor(app.base, 'bob'), { channel: 'feed', lastEventId: `feed 1 ${position.epoch}` });
    cleanup(() => sub.unsubscribe());
    await expect.poll(() => sub.kinds(), poll).toEqual(['gap']);
    expect(sub.events[0]!.data).toMatchObject({ kind: 'gap', since: { offset: 1 }, position: { offset: 5 } });
    expect(sub.events[0]!.id).toBe(`feed 5 ${position.epoch}`);
    await app.hub.publish('feed', 'item', 6);
    await expect.poll(() => sub.offsets(), poll).toEqual([6]);
  });

  it('a stream whose history is lost while subscribed is told as a gap event, and goes on from its new position', async () => {
    const engine = new ResettableEngine();
    const app = await startApp(harness, { authorize: () => true, engine });
    const sub = record(clientFor(app.base, 'bob'), { channel: 'feed' });
    cleanup(() => sub.unsubscribe());
    await expect.poll(() => sub.kinds(), poll).toEqual(['subscribed']);
    const { epoch } = await app.hub.publish('feed', 'item', 1);
    await expect.poll(() => sub.offsets(), poll).toEqual([1]);
    // The engine lost the stream: it goes on from offset 5 of a new epoch.
    engine.handlers.reset('feed', { offset: 5, epoch: 'renewed' });
    engine.handlers.deliver({ channel: 'feed', offset: 6, epoch: 'renewed', type: 'item', data: '6' });
    await expect.poll(() => sub.kinds(), poll).toEqual(['subscribed', 'message', 'gap', 'message']);
    expect(sub.events[2]).toEqual({ id: 'feed 5 renewed', data: { kind: 'gap', channel: 'feed', client: expect.any(String), since: { offset: 1, epoch }, position: { offset: 5, epoch: 'renewed' } } });
    expect(sub.events[3]).toMatchObject({ id: 'feed 6 renewed', data: { message: { offset: 6, data: 6 } } });
  });

  it('publishes as the caller\'s own subscription with exceptSelf: every subscriber but it gets the message', async () => {
    const app = await startApp(harness, { authorize: () => true });
    const ann = clientFor(app.base, 'ann');
    const own = record(ann, { channel: 'room' });
    cleanup(() => own.unsubscribe());
    await expect.poll(() => own.kinds(), poll).toEqual(['subscribed']);
    const peer = await Peer.open(app.url);
    cleanup(() => peer.close());
    await peer.subscribe('room');
    const { client } = own.events[0]!.data as { client: string };
    await ann.realtime.publish.mutate({ channel: 'room', type: 'typing', client, exceptSelf: true });
    expect(await peer.next((m) => m.type === 'typing')).toMatchObject({ from: { user: 'ann', client } });
    // A sentinel after it: the subscription got that, and not the message it published.
    await app.hub.publish('room', 'sentinel');
    await expect.poll(() => own.events.map((event) => event.data.kind === 'message' ? event.data.message.type : event.data.kind), poll).toEqual(['subscribed', 'sentinel']);
    // Another user cannot publish as ann's connection.
    expect(await codeOf(clientFor(app.base, 'bob').realtime.publish.mutate({ channel: 'room', type: 'typing', client }))).toBe('FORBIDDEN');
  });

  it('refuses what the hub\'s policy refuses, with the mapped code: publish, subscribe, presence and history', async () => {
    const app = await startApp(harness, policy);
    const bob = clientFor(app.base, 'bob');
    const anonymous = clientFor(app.base, null);
    expect(await codeOf(bob.realtime.publish.mutate({ channel: 'news', type: 'x' }))).toBe('FORBIDDEN');
    expect(await codeOf(anonymous.realtime.publish.mutate({ channel: 'news', type: 'x' }))).toBe('FORBIDDEN');
    expect(await codeOf(clientFor(app.base, 'ann').realtime.publish.mutate({ channel: 'locked', type: 'x' }))).toBe('FORBIDDEN');
    expect(await codeOf(bob.realtime.presence.query({ channel: 'presence-room' }))).toBe('FORBIDDEN');
    expect(await codeOf(bob.realtime.history.query({ channel: 'private-ann' }))).toBe('FORBIDDEN');
    const refused = record(bob, { channel: 'private-ann' });
    cleanup(() => refused.unsubscribe());
    await expect.poll(() => refused.errors.length, poll).toBe(1);
    expect(refused.errors[0]!.data?.code).toBe('FORBIDDEN');
    expect(refused.events).toEqual([]);
    // Bad input is BAD_REQUEST, naming the field.
    const bad = await bob.realtime.history.query({ channel: 'no spaces' }).then(() => null, (e: TRPCClientError<AppRouter>) => e);
    expect(bad?.data?.code).toBe('BAD_REQUEST');
    expect(bad?.message).toContain('channel must be a channel name');
    expect(await codeOf(bob.realtime.publish.mutate({ channel: 'news', type: 'x', extra: 1 } as never))).toBe('BAD_REQUEST');
    // The hub's own channels are no names for callers.
    expect(await codeOf(bob.realtime.presence.query({ channel: '#presence' }))).toBe('BAD_REQUEST');
    expect(await codeOf(bob.realtime.publish.mutate({ channel: '#presence', type: 'x' }))).toBe('BAD_REQUEST');
    // What the policy allows passes: ann's history and presence.
    const ann = clientFor(app.base, 'ann');
    await ann.realtime.publish.mutate({ channel: 'private-ann', type: 'note', data: 1 });
    expect(await ann.realtime.history.query({ channel: 'private-ann' })).toMatchObject({ messages: [{ type: 'note', data: 1 }], complete: true });
    expect(await ann.realtime.presence.query({ channel: 'presence-room' })).toEqual([]);
  });

  it('lists a presence channel\'s members to a caller who may subscribe to it', async () => {
    const app = await startApp(harness, { authorize: () => true, authenticate: (req) => ({ userId: new URL(req.url!, 'http://x').searchParams.get('user')! }) });
    const peer = await Peer.open(`${app.url}?user=cat`);
    cleanup(() => peer.close());
    peer.send({ type: 'subscribe', channel: 'presence-room' });
    await peer.next((m) => m.type === 'presence');
    expect(await clientFor(app.base, 'dan').realtime.presence.query({ channel: 'presence-room' })).toEqual([expect.objectContaining({ userId: 'cat', status: 'online' })]);
  });
});
