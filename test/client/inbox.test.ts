// @vitest-environment happy-dom
import type { IncomingMessage } from 'node:http';
import { cleanup as unmountAll, renderHook } from '@testing-library/react';
import { effectScope } from '@vue/runtime-core';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient, type WebSocketConstructor } from '../../client/index.js';
import type { Inbox, InboxState, ReactShape } from '../../client/core/index.js';
import * as react from '../../client/react/index.js';
import * as vue from '../../client/vue.js';
import { perTest } from '../helpers.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
const WS = WebSocket as unknown as WebSocketConstructor;
const { start, cleanup } = perTest();
afterEach(() => unmountAll());

const byQuery = (request: IncomingMessage) => {
  const user = new URL(request.url ?? '/', 'http://hub').searchParams.get('user');
  return user === null ? null : { userId: user };
};

function device(url: string, user: string | null): LiveClient {
  const client = new LiveClient(user === null ? url : `${url}?user=${user}`, { WebSocket: WS });
  cleanup(() => client.dispose());
  return client;
}

describe('client.inbox()', () => {
  it('replays what the user has not acknowledged, counts unread alike on two devices, and acknowledges for both', async () => {
    const { hub, url } = await start({ authenticate: byQuery });
    for (let i = 1; i <= 3; i++) await hub.sendToUser('ann', 'notification', { n: i });
    await hub.acknowledge('ann', { offset: 1, epoch: (await hub.unread('ann')).head.epoch });
    const seen: number[] = [];
    const phone = device(url, 'ann').inbox<{ n: number }>({ onMessage: (data) => { seen.push(data.n); } });
    const laptop = device(url, 'ann').inbox();
    cleanup(() => phone.close(), () => laptop.close());
    // Only what came after the acknowledgement is replayed.
    await expect.poll(() => seen).toEqual([2, 3]);
    await expect.poll(() => [phone.getSnapshot().unread, laptop.getSnapshot().unread]).toEqual([2, 2]);
    expect(phone.getSnapshot()).toMatchObject({ channel: 'user:ann', head: 3, acknowledged: 1, error: null });
    // A new message raises the count on both devices; an acknowledgement on one lowers it on both.
    await hub.sendToUser('ann', 'notification', { n: 4 });
    await expect.poll(() => [phone.getSnapshot().unread, laptop.getSnapshot().unread]).toEqual([3, 3]);
    await phone.acknowledge(3);
    expect(phone.getSnapshot()).toMatchObject({ acknowledged: 3, unread: 1 });
    await expect.poll(() => laptop.getSnapshot()).toMatchObject({ acknowledged: 3, unread: 1 });
    await laptop.acknowledge();
    await expect.poll(() => phone.getSnapshot().unread).toBe(0);
    await expect(laptop.acknowledge(9)).rejects.toMatchObject({ code: 'beyond_head' });
  });

  it('acknowledges each message after its handler returns with autoAcknowledge, and stops at a handler that throws', async () => {
    const { hub, url } = await start({ authenticate: byQuery });
    const handled: number[] = [];
    const inbox = device(url, 'bob').inbox<{ n: number }>({
      autoAcknowledge: true,
      onMessage: async ({ n }) => {
        if (n === 3) throw new Error('cannot show 3');
        handled.push(n);
      },
    });
    cleanup(() => inbox.close());
    await expect.poll(() => inbox.getSnapshot().channel).toBe('user:bob');
    for (let i = 1; i <= 4; i++) await hub.sendToUser('bob', 'notification', { n: i });
    await expect.poll(() => handled).toEqual([1, 2, 4]);
    await expect.poll(() => inbox.getSnapshot().error?.code).toBe('handler_failed');
    expect((await hub.unread('bob')).acknowledged).toBe(2);
    expect(inbox.getSnapshot()).toMatchObject({ acknowledged: 2, head: 4, unread: 2 });
  });

  it('tells an anonymous connection that it has no user stream (forbidden)', async () => {
    const { url } = await start({ authenticate: byQuery });
    const inbox = device(url, null).inbox();
    cleanup(() => inbox.close());
    await expect.poll(() => inbox.getSnapshot().error?.code).toBe('forbidden');
    expect(inbox.getSnapshot().error).toMatchObject({ message: 'only a signed-in user has a user stream to acknowledge' });
    expect(inbox.getSnapshot().error?.channel).toBeUndefined();
  });

  it('refuses an unknown option with a TypeError', () => {
    const client = new LiveClient('ws://hub.test/ws', { WebSocket: WS, autoConnect: false });
    cleanup(() => client.dispose());
    expect(() => client.inbox({ autoAck: true } as never)).toThrow(TypeError);
  });
});

describe('useInbox in Vue and React', () => {
  it('has one shape in both bindings', () => {
    expectTypeOf<react.UseInboxReturn>().toEqualTypeOf<ReactShape<InboxState, Pick<Inbox, 'acknowledge'>>>();
    type Unwrapped<S> = { [K in keyof S]: S[K] extends Readonly<import('@vue/runtime-core').Ref<infer V>> ? V : S[K] };
    expectTypeOf<Unwrapped<vue.UseInboxReturn>>().toEqualTypeOf<Unwrapped<react.UseInboxReturn>>();
  });

  it('shows the same unread count in a Vue component and a React component of one user, and acknowledges from either', async () => {
    const { hub, url } = await start({ authenticate: byQuery });
    const scope = effectScope();
    const fromVue = scope.run(() => vue.useInbox({ client: device(url, 'cy') }))!;
    cleanup(() => scope.stop());
    const reactClient = device(url, 'cy');
    const { result, unmount } = renderHook(() => react.useInbox({ client: reactClient }));
    cleanup(unmount);
    await expect.poll(() => [fromVue.channel.value, result.current.channel]).toEqual(['user:cy', 'user:cy']);
    await hub.sendToUser('cy', 'notification', 'a');
    await hub.sendToUser('cy', 'notification', 'b');
    await expect.poll(() => [fromVue.unread.value, result.current.unread]).toEqual([2, 2]);
    await result.current.acknowledge();
    await expect.poll(() => [fromVue.unread.value, result.current.unread]).toEqual([0, 0]);
    await hub.sendToUser('cy', 'notification', 'c');
    await expect.poll(() => [fromVue.unread.value, result.current.unread]).toEqual([1, 1]);
    await fromVue.acknowledge();
    await expect.poll(() => result.current.unread).toBe(0);
    expect(Object.keys(result.current).sort()).toEqual(Object.keys(fromVue).sort());
  });
});
