import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GapEvent, RecoveredEvent, SubscribeErrorEvent } from '../../client/errors.js';
import { resolveOptions } from '../../client/options.js';
import { Subscriptions } from '../../client/subscriptions.js';
import type { ServerReply } from '../../pkg/protocol/index.js';

/** A client as the subscriptions see it: what they send and what they report. */
function setup({ confirms = true, open = true } = {}) {
  const sent: Array<Record<string, unknown>> = [];
  const recovered: RecoveredEvent[] = [];
  const gaps: GapEvent[] = [];
  const errors: SubscribeErrorEvent[] = [];
  const ok: string[] = [];
  let ids = 0;
  const host = {
    open, confirming: confirms,
    isOpen: () => host.open,
    confirms: () => host.confirming,
    send: (command: object) => { sent.push(command as Record<string, unknown>); },
    nextId: () => `s${++ids}`,
    recovered: (e: RecoveredEvent) => { recovered.push(e); },
    gap: (e: GapEvent) => { gaps.push(e); },
    subscribeError: (e: SubscribeErrorEvent) => { errors.push(e); },
    subscribed: (channel: string) => { ok.push(channel); },
  };
  const options = resolveOptions('ws://hub.test/ws', { ackTimeout: 1000, reconnect: { delay: 100, maxDelay: 1000 }, random: () => 0.5 });
  const subs = new Subscriptions(host as never, options);
  const reply = (r: Record<string, unknown>) => subs.reply(r as unknown as ServerReply);
  return { subs, host, sent, recovered, gaps, errors, ok, reply };
}

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

describe('Subscriptions: holders', () => {
  it('subscribes on the first holder only, and unsubscribes after the last one leaves', () => {
    const { subs, sent } = setup();
    subs.want('news', 1);
    subs.want('news', 1);
    expect(sent).toEqual([{ type: 'subscribe', channel: 'news', id: 's1' }]);
    expect(subs.channels()).toEqual(['news']);
    subs.want('news', -1);
    expect(sent).toHaveLength(1);
    expect(subs.has('news')).toBe(true);
    subs.want('news', -1);
    expect(sent[1]).toEqual({ type: 'unsubscribe', channel: 'news' });
    expect(subs.has('news')).toBe(false);
    subs.want('news', -1);
    expect(sent).toHaveLength(2);
    expect(subs.channels()).toEqual([]);
  });

  it('sends nothing while closed, and subscribes every wanted channel when the connection opens', () => {
    const { subs, host, sent } = setup({ open: false });
    subs.want('a', 1);
    subs.want('b', 1);
    subs.want('b', -1);
    expect(sent).toEqual([]);
    host.open = true;
    subs.opened();
    expect(sent).toEqual([{ type: 'subscribe', channel: 'a', id: 's1' }]);
  });

  it('never subscribes or unsubscribes the everyone channel, which every connection is in', () => {
    const { subs, sent } = setup();
    subs.want('*', 1);
    subs.want('*', -1);
    subs.want('*', 1);
    subs.opened();
    expect(sent).toEqual([]);
  });

  it('forgets the position of a channel nobody holds any more, so a new holder starts fresh', () => {
    const { subs, sent, reply } = setup();
    subs.want('a', 1);
    reply({ type: 'subscribed', channel: 'a', offset: 5, epoch: 'e', id: 's1' });
    expect(subs.position('a')).toEqual({ offset: 5, epoch: 'e' });
    subs.want('a', -1);
    expect(subs.position('a')).toBeUndefined();
    subs.want('a', 1);
    expect(sent.at(-1)).toEqual({ type: 'subscribe', channel: 'a', id: 's2' });
  });

  it('hands out a copy of a position, which the caller cannot change', () => {
    const { subs, reply } = setup();
    subs.want('a', 1);
    reply({ type: 'subscribed', channel: 'a', offset: 5, epoch: 'e', id: 's1' });
    const position = subs.position('a')!;
    position.offset = 99;
    expect(subs.position('a')).toEqual({ offset: 5, epoch: 'e' });
  });
});

describe('Subscriptions: positions', () => {
  it('resumes from a start position given before the first subscribe, but keeps a position it already has', () => {
    const { subs, sent, reply } = setup();
    subs.startFrom('a', { offset: 3, epoch: 'e' });
    subs.want('a', 1);
    expect(sent[0]).toEqual({ type: 'subscribe', channel: 'a', since: { offset: 3, epoch: 'e' }, id: 's1' });
    reply({ type: 'subscribed', channel: 'a', offset: 7, epoch: 'e', recovered: true, id: 's1' });
    subs.accept({ type: 'm', channel: 'a', offset: 7 } as never);
    subs.startFrom('a', { offset: 1, epoch: 'e' });
    expect(subs.position('a')).toEqual({ offset: 7, epoch: 'e' });
  });

  it('accepts only messages above the position, advancing it, and every message of a channel without one', () => {
    const { subs, reply } = setup();
    subs.want('a', 1);
    reply({ type: 'subscribed', channel: 'a', offset: 5, epoch: 'e', id: 's1' });
    expect(subs.accept({ type: 'm', channel: 'a', offset: 5 } as never)).toBe(false);
    expect(subs.accept({ type: 'm', channel: 'a', offset: 6 } as never)).toBe(true);
    expect(subs.accept({ type: 'm', channel: 'a', offset: 6 } as never)).toBe(false);
    expect(subs.accept({ type: 'm', channel: 'a' } as never)).toBe(true);
    expect(subs.position('a')).toEqual({ offset: 6, epoch: 'e' });
    expect(subs.accept({ type: 'm', channel: 'other', offset: 1 } as never)).toBe(true);
    expect(subs.accept({ type: 'm', channel: 'other', offset: 1 } as never)).toBe(true);
  });

  it('tells a recovery from the position asked to the one answered, and the position then follows the replay', () => {
    const { subs, recovered, gaps, reply } = setup();
    subs.startFrom('a', { offset: 3, epoch: 'e' });
    subs.want('a', 1);
    expect(reply({ type: 'subscribed', channel: 'a', offset: 9, epoch: 'e', recovered: true, id: 's1' })).toBe(false);
    expect(recovered).toEqual([{ channel: 'a', from: 3, to: 9 }]);
    expect(gaps).toEqual([]);
    expect(subs.position('a')).toEqual({ offset: 3, epoch: 'e' });
  });

  it('tells a gap, with both positions, when a resume was not recovered', () => {
    const { subs, recovered, gaps, reply } = setup();
    subs.startFrom('a', { offset: 3, epoch: 'old' });
    subs.want('a', 1);
    reply({ type: 'subscribed', channel: 'a', offset: 9, epoch: 'new', recovered: false, id: 's1' });
    expect(gaps).toEqual([{ channel: 'a', position: { offset: 9, epoch: 'new' }, since: { offset: 3, epoch: 'old' } }]);
    expect(recovered).toEqual([]);
    expect(subs.position('a')).toEqual({ offset: 9, epoch: 'new' });
  });

  it('tells no gap on a first subscribe without a position', () => {
    const { subs, gaps, recovered, reply } = setup();
    subs.want('a', 1);
    reply({ type: 'subscribed', channel: 'a', offset: 9, epoch: 'e', id: 's1' });
    expect(gaps).toEqual([]);
    expect(recovered).toEqual([]);
  });

  it('takes a reset of a wanted channel as a gap from the last position, and ignores one for another channel', () => {
    const { subs, gaps, reply } = setup();
    subs.want('a', 1);
    reply({ type: 'subscribed', channel: 'a', offset: 4, epoch: 'e', id: 's1' });
    expect(reply({ type: 'reset', channel: 'a', offset: 0, epoch: 'f' })).toBe(false);
    expect(gaps).toEqual([{ channel: 'a', position: { offset: 0, epoch: 'f' }, since: { offset: 4, epoch: 'e' } }]);
    expect(subs.position('a')).toEqual({ offset: 0, epoch: 'f' });
    reply({ type: 'reset', channel: 'b', offset: 0, epoch: 'f' });
    expect(gaps).toHaveLength(1);
    expect(subs.position('b')).toBeUndefined();
  });

  it('takes a reset before any position as a gap since nothing', () => {
    const { subs, gaps, reply } = setup();
    subs.want('a', 1);
    reply({ type: 'reset', channel: 'a', offset: 2, epoch: 'f' });
    expect(gaps).toEqual([{ channel: 'a', position: { offset: 2, epoch: 'f' }, since: null }]);
  });

  it('ignores a subscribed answer for a channel not wanted, or one answered already', () => {
    const { subs, reply, gaps } = setup();
    reply({ type: 'subscribed', channel: 'x', offset: 4, epoch: 'e', id: 's9' });
    expect(subs.position('x')).toBeUndefined();
    subs.want('a', 1);
    reply({ type: 'subscribed', channel: 'a', offset: 4, epoch: 'e', id: 's1' });
    subs.accept({ type: 'm', channel: 'a', offset: 6 } as never);
    reply({ type: 'subscribed', channel: 'a', offset: 4, epoch: 'other', id: 's1' });
    expect(subs.position('a')).toEqual({ offset: 6, epoch: 'e' });
    expect(gaps).toEqual([]);
  });

  it('keeps no position from an answer without one (a hub of the plain protocol)', () => {
    const { subs, reply } = setup();
    subs.want('a', 1);
    reply({ type: 'subscribed', channel: 'a', id: 's1' });
    expect(subs.position('a')).toBeUndefined();
    subs.want('b', 1);
    reply({ type: 'subscribed', channel: 'b', offset: 3, id: 's2' });
    expect(subs.position('b')).toBeUndefined();
    subs.want('c', 1);
    reply({ type: 'subscribed', channel: 'c', epoch: 'e', id: 's3' });
    expect(subs.position('c')).toBeUndefined();
  });
});

describe('Subscriptions: the plain protocol', () => {
  it('sends the bare subscribe frame to a hub that does not confirm, and arms no answer timer', () => {
    const { subs, sent, errors } = setup({ confirms: false });
    subs.want('a', 1);
    expect(sent).toEqual([{ type: 'subscribe', channel: 'a' }]);
    vi.advanceTimersByTime(60_000);
    expect(errors).toEqual([]);
  });

  it('still sends a position to a hub that does not confirm once it has one', () => {
    const { subs, sent } = setup({ confirms: false });
    subs.startFrom('a', { offset: 2, epoch: 'e' });
    subs.want('a', 1);
    expect(sent).toEqual([{ type: 'subscribe', channel: 'a', since: { offset: 2, epoch: 'e' }, id: 's1' }]);
  });
});

describe('Subscriptions: failures and retries', () => {
  it('fails a subscribe left unanswered for ackTimeout with a timeout, and retries it after the backoff', () => {
    const { subs, sent, errors } = setup();
    subs.want('a', 1);
    vi.advanceTimersByTime(999);
    expect(errors).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ channel: 'a', retrying: true, retryIn: 50 });
    const { code, message, channel } = errors[0]!.error;
    expect({ code, message, channel }).toEqual({ code: 'timeout', message: 'no answer to subscribe within 1000 ms (channel "a")', channel: 'a' });
    vi.advanceTimersByTime(49);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent[1]).toEqual({ type: 'subscribe', channel: 'a', id: 's2' });
  });

  it('doubles the backoff with each failure in a row and reports the channel subscribed once one succeeds', () => {
    const { subs, errors, ok, reply } = setup();
    subs.want('a', 1);
    reply({ type: 'error', code: 'unavailable', message: 'later', id: 's1' });
    vi.advanceTimersByTime(50);
    reply({ type: 'error', code: 'unavailable', message: 'later', id: 's2' });
    vi.advanceTimersByTime(100);
    expect(errors.map((e) => e.retryIn)).toEqual([50, 100]);
    reply({ type: 'subscribed', channel: 'a', offset: 1, epoch: 'e', id: 's3' });
    expect(ok).toEqual(['a']);
    reply({ type: 'subscribed', channel: 'a', offset: 1, epoch: 'e', id: 's3' });
    expect(ok).toEqual(['a']);
  });

  it('does not report a first subscribe that succeeds as recovered from a failure', () => {
    const { subs, ok, reply } = setup();
    subs.want('a', 1);
    reply({ type: 'subscribed', channel: 'a', offset: 1, epoch: 'e', id: 's1' });
    expect(ok).toEqual([]);
  });

  it('reports an error that cannot pass without retrying, and reports the channel subscribed when a later connection succeeds', () => {
    const { subs, sent, errors, ok, reply } = setup();
    subs.want('a', 1);
    expect(reply({ type: 'error', code: 'forbidden', message: 'no', id: 's1' })).toBe(true);
    expect(errors).toEqual([expect.objectContaining({ channel: 'a', retrying: false })]);
    expect(errors[0]!.retryIn).toBeUndefined();
    vi.advanceTimersByTime(60_000);
    expect(sent).toHaveLength(1);
    expect(errors).toHaveLength(1);
    subs.closed();
    subs.opened();
    reply({ type: 'subscribed', channel: 'a', offset: 0, epoch: 'e', id: 's2' });
    expect(ok).toEqual(['a']);
  });

  it('does not retry while the connection is closed', () => {
    const { subs, host, sent, errors, reply } = setup();
    subs.want('a', 1);
    host.open = false;
    reply({ type: 'error', code: 'unavailable', message: 'later', id: 's1' });
    expect(errors[0]).toMatchObject({ retrying: false });
    vi.advanceTimersByTime(60_000);
    expect(sent).toHaveLength(1);
  });

  it('drops a scheduled retry when the connection closes before it is due', () => {
    const { subs, host, sent, reply } = setup();
    subs.want('a', 1);
    reply({ type: 'error', code: 'unavailable', message: 'later', id: 's1' });
    host.open = false;
    vi.advanceTimersByTime(60_000);
    expect(sent).toHaveLength(1);
  });

  it('drops a scheduled retry for a channel no longer wanted', () => {
    const { subs, sent, reply } = setup();
    subs.want('a', 1);
    reply({ type: 'error', code: 'unavailable', message: 'later', id: 's1' });
    subs.want('a', -1);
    vi.advanceTimersByTime(60_000);
    expect(sent).toEqual([{ type: 'subscribe', channel: 'a', id: 's1' }, { type: 'unsubscribe', channel: 'a' }]);
  });

  it('matches an error to the subscribe by its id, and leaves errors of other requests to the client', () => {
    const { subs, errors, reply } = setup();
    subs.want('a', 1);
    subs.want('b', 1);
    expect(reply({ type: 'error', code: 'forbidden', message: 'no', id: 's2' })).toBe(true);
    expect(errors.map((e) => e.channel)).toEqual(['b']);
    expect(reply({ type: 'error', code: 'forbidden', message: 'no', id: 'p7' })).toBe(false);
    expect(reply({ type: 'error', code: 'rate_limited', message: 'slow down' })).toBe(false);
    expect(errors).toHaveLength(1);
  });

  it('matches an error without an id by its channel only while that channel\'s subscribe is in flight', () => {
    const { subs, errors, reply } = setup();
    subs.want('a', 1);
    expect(reply({ type: 'error', code: 'forbidden', message: 'no', channel: 'a' })).toBe(true);
    expect(errors).toHaveLength(1);
    expect(reply({ type: 'error', code: 'forbidden', message: 'no', channel: 'a' })).toBe(false);
    expect(reply({ type: 'error', code: 'forbidden', message: 'no', channel: 'zzz' })).toBe(false);
  });

  it('clears the answer timer when the connection closes, so a quick reconnect\'s subscribe is not failed by it', () => {
    const { subs, sent, errors, reply } = setup();
    subs.want('a', 1);
    vi.advanceTimersByTime(900);
    subs.closed();
    subs.opened();
    vi.advanceTimersByTime(200);
    expect(errors).toEqual([]);
    reply({ type: 'subscribed', channel: 'a', offset: 0, epoch: 'e', id: sent.at(-1)!.id });
    vi.advanceTimersByTime(60_000);
    expect(errors).toEqual([]);
  });

  it('clears the answer timer when a channel is let go', () => {
    const { subs, errors } = setup();
    subs.want('a', 1);
    subs.want('a', -1);
    vi.advanceTimersByTime(60_000);
    expect(errors).toEqual([]);
  });

  it('resends with a new id, and an answer to the old id no longer fails the channel', () => {
    const { subs, sent, errors, reply } = setup();
    subs.want('a', 1);
    subs.closed();
    subs.opened();
    expect(sent.map((c) => c.id)).toEqual(['s1', 's2']);
    expect(reply({ type: 'error', code: 'forbidden', message: 'no', id: 's1' })).toBe(false);
    expect(errors).toEqual([]);
  });

  it('asks again from the position it had when it reconnects', () => {
    const { subs, sent, reply } = setup();
    subs.want('a', 1);
    reply({ type: 'subscribed', channel: 'a', offset: 4, epoch: 'e', id: 's1' });
    subs.closed();
    subs.opened();
    expect(sent.at(-1)).toEqual({ type: 'subscribe', channel: 'a', since: { offset: 4, epoch: 'e' }, id: 's2' });
  });
});

describe('Subscriptions: channels the server subscribed by itself', () => {
  it('listens to a personal channel without ever unsubscribing it', () => {
    const { subs, sent, reply } = setup();
    subs.want('user:ada', 1);
    reply({ type: 'subscribed', channel: 'user:ada', offset: 0, epoch: 'e', personal: true, id: 's1' });
    subs.want('user:ada', -1);
    expect(sent).toEqual([{ type: 'subscribe', channel: 'user:ada', id: 's1' }]);
  });

  it('unsubscribes a personal channel held again after a reconnect, since the standing list is per connection', () => {
    const { subs, sent, reply } = setup();
    subs.want('user:ada', 1);
    reply({ type: 'subscribed', channel: 'user:ada', offset: 0, epoch: 'e', personal: true, id: 's1' });
    subs.closed();
    subs.opened();
    reply({ type: 'subscribed', channel: 'user:ada', offset: 0, epoch: 'e', id: 's2' });
    subs.want('user:ada', -1);
    expect(sent.at(-1)).toEqual({ type: 'unsubscribe', channel: 'user:ada' });
  });

  it('takes already_subscribed as success from an older hub: no error, no unsubscribe later', () => {
    const { subs, sent, errors, ok, reply } = setup();
    subs.want('user:ada', 1);
    expect(reply({ type: 'error', code: 'already_subscribed', message: 'already', id: 's1' })).toBe(true);
    expect(errors).toEqual([]);
    expect(ok).toEqual([]);
    vi.advanceTimersByTime(60_000);
    expect(errors).toEqual([]);
    subs.want('user:ada', -1);
    expect(sent).toHaveLength(1);
  });

  it('reports a channel subscribed when already_subscribed answers a retry after failures', () => {
    const { subs, ok, reply } = setup();
    subs.want('user:ada', 1);
    reply({ type: 'error', code: 'unavailable', message: 'later', id: 's1' });
    vi.advanceTimersByTime(50);
    reply({ type: 'error', code: 'already_subscribed', message: 'already', id: 's2' });
    expect(ok).toEqual(['user:ada']);
  });

  it('answers already_subscribed for an unknown subscribe as handled, and stands for nothing not wanted', () => {
    const { subs, sent, reply } = setup();
    expect(reply({ type: 'error', code: 'already_subscribed', message: 'already', channel: 'x' })).toBe(true);
    subs.want('x', 1);
    subs.want('x', -1);
    expect(sent.at(-1)).toEqual({ type: 'unsubscribe', channel: 'x' });
  });

  it('awaits the answer to a stream the server resumed by itself, subscribes the rest, and unsubscribes a resumed channel not wanted', () => {
    const { subs, sent, recovered, errors, reply } = setup();
    subs.want('a', 1);
    subs.want('b', 1);
    sent.length = 0;
    subs.closed();
    subs.opened(new Map([['a', { offset: 2, epoch: 'e' }], ['gone', { offset: 1, epoch: 'e' }]]));
    expect(sent).toEqual([{ type: 'subscribe', channel: 'b', id: 's3' }, { type: 'unsubscribe', channel: 'gone' }]);
    reply({ type: 'subscribed', channel: 'a', offset: 5, epoch: 'e', recovered: true });
    expect(recovered).toEqual([{ channel: 'a', from: 2, to: 5 }]);
    vi.advanceTimersByTime(1000);
    expect(errors.map((e) => e.channel)).toEqual(['b']);
  });

  it('fails a resumed stream whose answer never comes, like a subscribe of its own', () => {
    const { subs, errors } = setup();
    subs.want('a', 1);
    subs.closed();
    subs.opened(new Map([['a', { offset: 2, epoch: 'e' }]]));
    vi.advanceTimersByTime(1000);
    expect(errors).toEqual([expect.objectContaining({ channel: 'a', retrying: true })]);
  });
});
