import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { decide, isProtectedChannel, keptRequestInfo, refusalReason, requestInfo, resolveKeepHeaders, type AuthorizeRequest } from '../../pkg/core/policy.js';

const request = { headers: {}, url: '/', method: 'GET', socket: null } as never;

function ask(action: 'subscribe' | 'publish', channel: string, userId: string | null = null): AuthorizeRequest {
  return { action, channel, identity: userId === null ? null : { userId }, clientId: 'c1', request };
}

const none = { authorize: null, canPublish: null };
const noErrors = (error: Error) => { throw new Error(`unexpected hook error: ${error.message}`); };

describe('decide', () => {
  it('refuses the hub\'s own channels to everyone, whatever the hooks say', () => {
    const yes = { authorize: () => true, canPublish: () => true };
    expect(decide(ask('subscribe', '#user:ada', 'ada'), yes, noErrors)).toBe(false);
    expect(decide(ask('publish', '#control', 'ada'), yes, noErrors)).toBe(false);
  });

  it('lets only its user subscribe to a personal channel, escaped as userChannel escapes it', () => {
    const yes = { authorize: () => true, canPublish: null };
    expect(decide(ask('subscribe', 'user:ada', 'ada'), yes, noErrors)).toBe(true);
    expect(decide(ask('subscribe', 'user:ada', 'bob'), yes, noErrors)).toBe(false);
    expect(decide(ask('subscribe', 'user:ada', null), yes, noErrors)).toBe(false);
    expect(decide(ask('subscribe', 'user:Jos~C3~A9', 'José'), none, noErrors)).toBe(true);
    expect(decide(ask('subscribe', 'user:José', 'José'), none, noErrors)).toBe(false);
  });

  it('leaves a publish to a personal channel to the hooks', () => {
    expect(decide(ask('publish', 'user:ada', 'bob'), { authorize: null, canPublish: () => true }, noErrors)).toBe(true);
    expect(decide(ask('publish', 'user:ada', 'ada'), none, noErrors)).toBe(false);
  });

  it('without hooks, allows subscribing except to private- and presence- channels, and no publish', () => {
    expect(decide(ask('subscribe', 'news'), none, noErrors)).toBe(true);
    expect(decide(ask('subscribe', 'private-a'), none, noErrors)).toBe(false);
    expect(decide(ask('subscribe', 'presence-a'), none, noErrors)).toBe(false);
    expect(decide(ask('subscribe', 'a-private-a'), none, noErrors)).toBe(true);
    expect(decide(ask('publish', 'news'), none, noErrors)).toBe(false);
  });

  it('asks canPublish for publishes only, and authorize, when there is one, for both', () => {
    const asked: string[] = [];
    const canPublish = (r: AuthorizeRequest) => { asked.push(`canPublish ${r.action} ${r.channel}`); return true; };
    expect(decide(ask('subscribe', 'private-a'), { authorize: null, canPublish }, noErrors)).toBe(false);
    expect(decide(ask('publish', 'a'), { authorize: null, canPublish }, noErrors)).toBe(true);
    const authorize = (r: AuthorizeRequest) => { asked.push(`authorize ${r.action} ${r.channel}`); return r.channel !== 'no'; };
    expect(decide(ask('publish', 'a'), { authorize, canPublish }, noErrors)).toBe(true);
    expect(decide(ask('subscribe', 'private-a'), { authorize, canPublish }, noErrors)).toBe(true);
    expect(decide(ask('subscribe', 'no'), { authorize, canPublish }, noErrors)).toBe(false);
    expect(asked).toEqual(['canPublish publish a', 'authorize publish a', 'authorize subscribe private-a', 'authorize subscribe no']);
  });

  it('allows only a verdict of true, not one that is merely truthy', async () => {
    const truthy = { authorize: () => 1 as never, canPublish: null };
    expect(decide(ask('subscribe', 'a'), truthy, noErrors)).toBe(false);
    await expect(decide(ask('subscribe', 'a'), { authorize: async () => 'yes' as never, canPublish: null }, noErrors)).resolves.toBe(false);
    await expect(decide(ask('subscribe', 'a'), { authorize: async () => true, canPublish: null }, noErrors)).resolves.toBe(true);
    const thenable = { then: (resolve: (v: boolean) => void) => resolve(true) };
    await expect(decide(ask('subscribe', 'a'), { authorize: () => thenable as never, canPublish: null }, noErrors)).resolves.toBe(true);
    expect(decide(ask('subscribe', 'a'), { authorize: () => null as never, canPublish: null }, noErrors)).toBe(false);
    expect(decide(ask('subscribe', 'a'), { authorize: () => ({ then: 'not a function' }) as never, canPublish: null }, noErrors)).toBe(false);
    // A function is not a promise, even with a then: it is a verdict that is not true.
    const callable = Object.assign(() => true, { then: (resolve: (v: boolean) => void) => resolve(true) });
    expect(decide(ask('subscribe', 'a'), { authorize: () => callable as never, canPublish: null }, noErrors)).toBe(false);
  });

  it('denies when a hook throws or rejects, and hands the error on', async () => {
    const errors: Error[] = [];
    const thrown = new Error('hook broke');
    expect(decide(ask('subscribe', 'a'), { authorize: () => { throw thrown; }, canPublish: null }, (e) => errors.push(e))).toBe(false);
    const rejected = new Error('hook rejected');
    await expect(decide(ask('publish', 'a'), { authorize: null, canPublish: () => Promise.reject(rejected) }, (e) => errors.push(e))).resolves.toBe(false);
    expect(errors).toEqual([thrown, rejected]);
  });
});

describe('refusalReason', () => {
  it('says why each kind of request was refused and what would let it pass', () => {
    expect(refusalReason(ask('subscribe', '#x', 'ada'), none)).toBe('channels starting with "#" are the hub\'s own; use another name');
    expect(refusalReason(ask('subscribe', 'user:ada'), none)).toBe('personal channels need an authenticated connection (the hub\'s authenticate option)');
    expect(refusalReason(ask('subscribe', 'user:ada', 'bob'), none)).toBe('only their user may subscribe to a personal channel; the connection\'s own is user:bob, joined at connect');
    expect(refusalReason(ask('publish', 'user:ada', 'bob'), { authorize: () => false, canPublish: null })).toBe('the authorize hook did not return true for this publish; allow it there if it should pass');
    expect(refusalReason(ask('subscribe', 'a'), { authorize: () => false, canPublish: null })).toBe('the authorize hook did not return true for this subscribe; allow it there if it should pass');
    expect(refusalReason(ask('publish', 'a'), none)).toBe('clients may not publish without a canPublish or authorize hook that allows it');
    expect(refusalReason(ask('publish', 'a'), { authorize: null, canPublish: () => false })).toBe('clients may not publish without a canPublish or authorize hook that allows it');
    expect(refusalReason(ask('subscribe', 'private-a'), none)).toBe('private- and presence- channels need an authorize hook that allows them (HubOptions.authorize)');
  });
});

describe('isProtectedChannel', () => {
  it('is true for channels starting with private- or presence-', () => {
    expect([isProtectedChannel('private-x'), isProtectedChannel('presence-x'), isProtectedChannel('x-private-'), isProtectedChannel('privatex')]).toEqual([true, true, false, false]);
  });
});

describe('the request a connection keeps', () => {
  const upgrade = {
    headers: { cookie: 'a=1', 'x-tenant': 't1', 'sec-websocket-key': 'k', 'sec-websocket-version': '13', 'sec-websocket-extensions': 'permessage-deflate', upgrade: 'websocket', connection: 'Upgrade' },
    url: '/live?x=1', method: 'GET', socket: { remoteAddress: '127.0.0.1' }, rawHeaders: ['cookie', 'a=1'],
  } as unknown as IncomingMessage;

  it('is the headers, URL, method and socket only', () => {
    expect(requestInfo(upgrade)).toEqual({ headers: upgrade.headers, url: '/live?x=1', method: 'GET', socket: upgrade.socket });
  });

  it('keeps every header but the handshake\'s own, or only those named', () => {
    expect(keptRequestInfo(upgrade, null)).toEqual({ headers: { cookie: 'a=1', 'x-tenant': 't1' }, url: '/live?x=1', method: 'GET', socket: upgrade.socket });
    expect(keptRequestInfo(upgrade, new Set(['x-tenant', 'upgrade'])).headers).toEqual({ 'x-tenant': 't1', upgrade: 'websocket' });
    expect(upgrade.headers['sec-websocket-key']).toBe('k');
  });

  it('is resolved from keepHeaders: all, or a list of names in lower case', () => {
    expect(resolveKeepHeaders(undefined)).toBeNull();
    expect(resolveKeepHeaders('all')).toBeNull();
    expect(resolveKeepHeaders(['X-Tenant', 'cookie'])).toEqual(new Set(['x-tenant', 'cookie']));
    expect(resolveKeepHeaders([])).toEqual(new Set());
    for (const bad of ['some', ['x tenant'], ['ok', 7], { 0: 'x' }, null, ['']]) {
      expect(() => resolveKeepHeaders(bad)).toThrow(new TypeError(`livehub: option keepHeaders must be 'all' or an array of header names, got ${JSON.stringify(bad)}`));
    }
  });
});
