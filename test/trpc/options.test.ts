import { initTRPC } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { realtimeRouter } from 'livehub/trpc';
import { perTest } from '../helpers.js';
import { clientFor, record, startApp, type AppRouter } from './app.js';
import type { TRPCClientError } from '@trpc/client';

const harness = perTest();
const { cleanup } = harness;
const poll = { timeout: 15_000 };

async function failure(call: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  return call.then(() => { throw new Error('the call passed'); }, (error: TRPCClientError<AppRouter>) => error);
}

describe('realtimeRouter options', () => {
  it('throws a TypeError at once for an unknown option, a missing identify, or no tRPC instance', () => {
    const t = initTRPC.create();
    const hub = harness.hub();
    expect(() => realtimeRouter(hub, t, { identify: () => null, identfy: () => null } as never)).toThrow(/unknown option 'identfy' for realtimeRouter\(\); did you mean 'identify'\?/);
    expect(() => realtimeRouter(hub, t, {} as never)).toThrow(new TypeError('livehub: realtimeRouter option identify(ctx) must be a function returning the caller\'s { userId } or null'));
    expect(() => realtimeRouter(hub, {} as never, { identify: () => null })).toThrow(/needs the app's tRPC instance as t/);
    expect(() => realtimeRouter({} as never, t, { identify: () => null })).toThrow(/needs a Hub as hub/);
  });

  it('runs the app\'s middleware before each procedure, and the hub\'s authorize hook sees identify\'s identity and the caller\'s request', async () => {
    const seen: Array<{ user: string | undefined; team: unknown; header: unknown }> = [];
    const app = await startApp(harness, {
      authorize: ({ identity, request }) => {
        seen.push({ user: identity?.userId, team: identity?.claims?.team, header: request.headers['x-user'] });
        return identity?.claims?.team === 'red';
      },
    });
    // The middleware refuses an anonymous caller before the hub is asked.
    const anonymous = await failure(clientFor(app.base, null).members.publish.mutate({ channel: 'news', type: 'x' }));
    expect(anonymous.data?.code).toBe('UNAUTHORIZED');
    expect(anonymous.message).toBe('sign in first');
    expect(seen).toEqual([]);
    expect(await clientFor(app.base, 'ann').members.publish.mutate({ channel: 'news', type: 'x' })).toMatchObject({ offset: 1 });
    expect((await failure(clientFor(app.base, 'bob').members.publish.mutate({ channel: 'news', type: 'x' }))).data?.code).toBe('FORBIDDEN');
    expect(seen).toEqual([{ user: 'ann', team: 'red', header: 'ann' }, { user: 'bob', team: 'blue', header: 'bob' }]);
  });

  it('ends a subscription with UNAUTHORIZED when the hub disconnects its user, on purpose and not to be resumed', async () => {
    const app = await startApp(harness, { authorize: () => true });
    const sub = record(clientFor(app.base, 'bob'), { channel: 'news' });
    cleanup(() => sub.unsubscribe());
    await expect.poll(() => sub.kinds(), poll).toEqual(['subscribed']);
    await app.hub.disconnectUser('bob');
    await expect.poll(() => sub.errors.map((error) => error.data?.code), poll).toEqual(['UNAUTHORIZED']);
    await expect.poll(() => app.hub.info().connections.trpc ?? 0, poll).toBe(0);
  });

  it('closes a subscription\'s session when its client unsubscribes', async () => {
    const app = await startApp(harness, { authorize: () => true });
    const sub = record(clientFor(app.base, 'bob'), { channel: 'news' });
    await expect.poll(() => sub.kinds(), poll).toEqual(['subscribed']);
    expect(app.hub.info().connections.trpc).toBe(1);
    sub.unsubscribe();
    await expect.poll(() => app.hub.info().connections.trpc ?? 0, poll).toBe(0);
    expect(app.hub.channelList()).toEqual([]);
  });

  it('refuses a lastEventId that is no position in the channel with BAD_REQUEST', async () => {
    const app = await startApp(harness, { authorize: () => true });
    const sub = record(clientFor(app.base, 'bob'), { channel: 'news', lastEventId: 'other 3 abc' });
    cleanup(() => sub.unsubscribe());
    await expect.poll(() => sub.errors.map((error) => error.data?.code), poll).toEqual(['BAD_REQUEST']);
    expect(sub.errors[0]!.message).toContain('is no position in news');
  });
});
