import { afterEach, describe, expect, it, vi } from 'vitest';
import { HandlerError, type Middleware } from '../../pkg/core/handlers.js';
import { resolveOptions, type HubOptions } from '../../pkg/core/options.js';
import { Router } from '../../pkg/core/router.js';

type Report = { level: string; code: string; message: string; cause: string | undefined };

/** A connection as the router sees it; `admit` is its inbound rate limit's answer. */
function session(id = 'c1', userId: string | null = null) {
  return {
    id, identity: userId === null ? null : { userId }, request: { headers: {} }, channels: new Set<string>(), transport: { name: 'websocket' },
    state: 'open' as string, reading: null as Promise<void> | null, presence: null, admit: true, admitInbound() { return this.admit; },
  };
}
type FakeSession = ReturnType<typeof session>;

/** A router over a host that records what it was asked: replies, loop work, client publishes, reports. */
function setup(hubOptions: HubOptions = {}, { counting = true } = {}) {
  const replies: Array<[string, Record<string, unknown>]> = [];
  const enqueued: Array<Record<string, unknown>> = [];
  const published: Array<Record<string, unknown>> = [];
  const reports: Report[] = [];
  const errors: Array<{ err: unknown; code: string | undefined; message: string | undefined }> = [];
  const received: string[] = [];
  const host = {
    options: resolveOptions({ logger: false, ...hubOptions }),
    reporter: {
      report: (level: string, code: string, message: string, _err?: unknown, cause?: string) => { reports.push({ level, code, message, cause }); },
      error: (err: unknown, code?: string, message?: string) => { errors.push({ err, code, message }); },
    },
    ...(counting ? { received: (_s: FakeSession, text: string) => { received.push(text); } } : {}),
    reply: (s: FakeSession, reply: Record<string, unknown>) => { replies.push([s.id, reply]); },
    enqueue: (work: Record<string, unknown>) => { enqueued.push(work); },
    publisher: { fromClient: (_s: FakeSession, command: Record<string, unknown>) => { published.push(command); } },
    presence: {}, userStreams: {},
    toolkit: () => ({}),
  };
  const router = new Router(host as never);
  const receive = (s: FakeSession, message: unknown) => router.receive(s as never, typeof message === 'string' ? message : JSON.stringify(message));
  /** Resolves when the session's messages so far have been through the chain. */
  const settled = async (s: FakeSession) => { while (s.reading) await s.reading; };
  return { router, receive, settled, replies, enqueued, published, reports, errors, received };
}

afterEach(() => { vi.useRealTimers(); });

describe('registering handlers and middleware', () => {
  it('refuses a built-in type, a bad name, a non-function and a second handler, each saying why', () => {
    const { router } = setup();
    expect(() => router.addHandler('subscribe', () => {})).toThrow(new TypeError('livehub: cannot handle "subscribe": it is a built-in command (use hub.use(type, middleware))'));
    expect(() => router.addHandler('a b', () => {})).toThrow(new TypeError('livehub: cannot handle "a b": use 1-255 characters of A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $'));
    expect(() => router.addHandler('order', 'no' as never)).toThrow(new TypeError('livehub: a handler must be a function'));
    router.addHandler('order', () => {});
    expect(() => router.addHandler('order', () => {})).toThrow(new TypeError('livehub: "order" already has a handler'));
    expect(() => router.addMiddleware('*', 'no')).toThrow(new TypeError('livehub: middleware must be a function'));
    expect(() => router.addMiddleware('a b', () => {})).toThrow(new TypeError('livehub: cannot use middleware for "a b": use 1-255 characters of A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $, or \'*\''));
  });

  it('keeps middleware for every type first, then a type\'s own in the order added', () => {
    const { router } = setup();
    const [a, b, c] = [() => {}, () => {}, () => {}];
    router.addMiddleware('order', a);
    router.addMiddleware('*', b);
    router.addMiddleware('order', c);
    expect(router.table.chainFor('order')).toEqual([b, a, c]);
    expect(router.table.chainFor('other')).toEqual([b]);
  });
});

describe('an inbound message', () => {
  it('is counted as received even when the rate limit drops it, and dropped then', () => {
    const { receive, received, replies } = setup();
    const s = session();
    s.admit = false;
    receive(s, { type: 'ping', id: 1 });
    expect(received).toEqual(['{"type":"ping","id":1}']);
    expect(replies).toEqual([]);
  });

  it('is routed by a hub that does not count what it receives', () => {
    const { receive, replies } = setup({}, { counting: false });
    receive(session(), { type: 'ping', id: 1 });
    expect(replies).toEqual([['c1', { type: 'pong', id: 1 }]]);
  });

  it('is dropped once its connection is no longer open', () => {
    const { receive, replies } = setup();
    const s = session();
    s.state = 'closing';
    receive(s, { type: 'ping', id: 1 });
    expect(replies).toEqual([]);
  });

  it('too deep or with too many keys is answered before it is parsed, naming the limit', () => {
    const { receive, replies } = setup({ maxJsonDepth: 2, maxJsonKeys: 4 });
    const s = session();
    receive(s, '{"type":"ping","a":{"b":{"c":1}}}');
    receive(s, '{"type":"ping","a":1,"b":2,"c":3,"d":4}');
    receive(s, '{"type":"ping","a":{"b":1},"id":1}');
    expect(replies).toEqual([
      ['c1', { type: 'error', code: 'too_deep', message: 'nesting deeper than 2' }],
      ['c1', { type: 'error', code: 'too_many_keys', message: 'more than 4 keys' }],
      ['c1', { type: 'pong', id: 1 }],
    ]);
  });

  it('that does not parse is answered with the parser\'s error', () => {
    const { receive, replies } = setup();
    receive(session(), '{not json');
    expect(replies).toEqual([['c1', { type: 'error', code: 'bad_json', message: 'message is not valid JSON' }]]);
  });

  it('of a built-in type without a policy runs at once; one with a policy is authorized first', () => {
    const { receive, replies, enqueued, published } = setup({ canPublish: () => true });
    const s = session();
    receive(s, { type: 'unsubscribe', channel: 'a', id: 1 });
    receive(s, { type: 'subscribe', channel: 'a', id: 2 });
    receive(s, { type: 'publish', channel: 'a', event: 'x', data: 1, id: 3 });
    receive(s, { type: 'ping' });
    expect(enqueued).toEqual([
      { kind: 'unsubscribe', session: s, channel: 'a', id: 1 },
      { kind: 'subscribe', session: s, channel: 'a', id: 2, since: undefined },
    ]);
    expect(published).toEqual([{ type: 'publish', channel: 'a', event: 'x', data: 1, id: 3 }]);
    expect(replies).toEqual([['c1', { type: 'pong' }]]);
  });

  it('of a pattern goes to the pattern command', () => {
    const { receive, enqueued } = setup();
    const s = session();
    receive(s, { type: 'subscribe', pattern: 'sensors/+/temp', id: 1 });
    expect(enqueued).toEqual([{ kind: 'pattern', action: 'subscribe', session: s, pattern: 'sensors/+/temp', id: 1 }]);
  });
});

describe('the channel policy', () => {
  it('answers a refused subscribe or publish forbidden with the id, and logs who, what and why', () => {
    const { receive, replies, reports, enqueued, published } = setup();
    receive(session('c1', 'ada'), { type: 'subscribe', channel: 'private-a', id: 1 });
    receive(session('c2'), { type: 'publish', channel: 'news', event: 'x', data: 1 });
    expect(replies).toEqual([
      ['c1', { type: 'error', code: 'forbidden', channel: 'private-a', message: 'subscribing to private-a is not allowed', id: 1 }],
      ['c2', { type: 'error', code: 'forbidden', channel: 'news', message: 'publishing to news is not allowed' }],
    ]);
    expect(reports).toEqual([
      { level: 'warn', code: 'subscribe_refused', cause: 'subscribe_refused:private-a', message: 'livehub: refused a subscribe to private-a by user "ada" (c1): private- and presence- channels need an authorize hook that allows them (HubOptions.authorize); the client was answered \'forbidden\'' },
      { level: 'warn', code: 'publish_refused', cause: 'publish_refused:news', message: 'livehub: refused a publish to news by an anonymous connection (c2): clients may not publish without a canPublish or authorize hook that allows it; the client was answered \'forbidden\'' },
    ]);
    expect(enqueued).toEqual([]);
    expect(published).toEqual([]);
  });

  it('asks the hook with the connection, its request, and a publish\'s type and data', () => {
    const asked: unknown[] = [];
    const { receive } = setup({ authorize: (r) => { asked.push(r); return true; } });
    const s = session('c1', 'ada');
    receive(s, { type: 'publish', channel: 'a', event: 'x', data: { n: 1 } });
    receive(s, { type: 'subscribe', channel: 'a' });
    expect(asked).toStrictEqual([
      { action: 'publish', channel: 'a', identity: { userId: 'ada' }, clientId: 'c1', request: s.request, type: 'x', event: 'x', data: { n: 1 } },
      { action: 'subscribe', channel: 'a', identity: { userId: 'ada' }, clientId: 'c1', request: s.request },
    ]);
  });

  it('logs a refusal by the authorize hook as the hook\'s', () => {
    const { receive, reports } = setup({ authorize: () => false, canPublish: () => true });
    receive(session(), { type: 'subscribe', channel: 'a' });
    expect(reports.map((r) => r.message)).toEqual(['livehub: refused a subscribe to a by an anonymous connection (c1): the authorize hook did not return true for this subscribe; allow it there if it should pass; the client was answered \'forbidden\'']);
  });

  it('keeps a session\'s messages in order behind each async verdict, however many wait', async () => {
    const verdicts: Array<(v: boolean) => void> = [];
    const { receive, replies, enqueued, settled } = setup({ authorize: () => new Promise<boolean>((resolve) => { verdicts.push(resolve); }) });
    const s = session();
    receive(s, { type: 'subscribe', channel: 'a', id: 1 });
    receive(s, { type: 'subscribe', channel: 'b', id: 2 });
    verdicts[0]!(true);
    await vi.waitFor(() => expect(verdicts).toHaveLength(2));
    receive(s, { type: 'ping', id: 3 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(replies).toEqual([]);
    verdicts[1]!(true);
    await settled(s);
    expect(enqueued.map((w) => w.channel)).toEqual(['a', 'b']);
    expect(replies).toEqual([['c1', { type: 'pong', id: 3 }]]);
  });

  it('reports a hook that threw, denying the request', () => {
    const { receive, replies, errors } = setup({ authorize: () => { throw new Error('db down'); } });
    receive(session(), { type: 'subscribe', channel: 'a', id: 1 });
    expect(errors).toEqual([{ err: new Error('db down'), code: 'authorize_failed', message: 'livehub: authorize threw for subscribe on a: db down; the request was denied' }]);
    expect(replies).toEqual([['c1', expect.objectContaining({ code: 'forbidden', id: 1 })]]);
  });

  it('waits for an async hook, keeping the session\'s messages in order, and drops the verdict of a connection closed meanwhile', async () => {
    let allow!: (v: boolean) => void;
    const { receive, replies, enqueued, settled } = setup({ authorize: () => new Promise<boolean>((resolve) => { allow = resolve; }) });
    const s = session();
    receive(s, { type: 'subscribe', channel: 'a', id: 1 });
    receive(s, { type: 'ping', id: 2 });
    expect(replies).toEqual([]);
    allow(true);
    await settled(s);
    expect(enqueued).toEqual([expect.objectContaining({ kind: 'subscribe', channel: 'a', id: 1 })]);
    expect(replies).toEqual([['c1', { type: 'pong', id: 2 }]]);
    expect(s.reading).toBeNull();
    receive(s, { type: 'subscribe', channel: 'b', id: 3 });
    s.state = 'closed';
    allow(false);
    await settled(s);
    expect(replies).toHaveLength(1);
    expect(enqueued).toHaveLength(1);
  });
});

describe('middleware', () => {
  it('runs before a built-in command, and a middleware that does not call next stops it', async () => {
    const { router, receive, replies, settled } = setup();
    const seen: string[] = [];
    router.addMiddleware('*', (async (message, context, next) => { seen.push(`${message.type} ${context.id}`); if (message.id !== 'stop') await next(); }) as Middleware);
    const s = session();
    receive(s, { type: 'ping', id: 1 });
    receive(s, { type: 'ping', id: 'stop' });
    await settled(s);
    expect(seen).toEqual(['ping c1', 'ping c1']);
    expect(replies).toEqual([['c1', { type: 'pong', id: 1 }]]);
  });

  it('that throws an error with an app code answers with it, its channel and id, and logs the refusal', async () => {
    const { router, receive, replies, reports, settled } = setup();
    router.addMiddleware('subscribe', () => { throw new HandlerError('quota_exceeded', 'too many rooms'); });
    const s = session('c1', 'ada');
    receive(s, { type: 'subscribe', channel: 'a', id: 7 });
    await settled(s);
    expect(replies).toEqual([['c1', { type: 'error', code: 'quota_exceeded', message: 'too many rooms', channel: 'a', id: 7 }]]);
    expect(reports).toEqual([{ level: 'warn', code: 'request_refused', cause: 'request_refused:subscribe:quota_exceeded', message: 'livehub: the handler or middleware of "subscribe" refused a request of user "ada" (c1) on a with \'quota_exceeded\': too many rooms; the client was answered with that code' }]);
  });

  it('that throws an app code without a message answers the code as its message', async () => {
    const { router, receive, replies, settled } = setup();
    router.addMiddleware('*', () => { throw Object.assign(new Error(''), { code: 'nope' }); });
    const s = session();
    receive(s, { type: 'ping' });
    await settled(s);
    expect(replies).toEqual([['c1', { type: 'error', code: 'nope', message: 'nope' }]]);
  });

  it('that throws anything else answers internal, never the error\'s text, and logs its stack', async () => {
    const { router, receive, replies, errors, settled } = setup();
    const failure = new Error('secret detail');
    router.addMiddleware('*', ((message) => { throw message.id === 2 ? 'a string' : message.id === 3 ? Object.assign(new Error('x'), { code: 'Not An App Code' }) : failure; }) as Middleware);
    const s = session();
    receive(s, { type: 'subscribe', channel: 'a', id: 1 });
    receive(s, { type: 'ping', id: 2 });
    receive(s, { type: 'ping', id: 3 });
    await settled(s);
    expect(replies).toEqual([
      ['c1', { type: 'error', code: 'internal', message: 'the server failed to handle this message', channel: 'a', id: 1 }],
      ['c1', { type: 'error', code: 'internal', message: 'the server failed to handle this message', id: 2 }],
      ['c1', { type: 'error', code: 'internal', message: 'the server failed to handle this message', id: 3 }],
    ]);
    expect(errors[0]).toEqual({ err: failure, code: 'handler_failed', message: `livehub: the handler or middleware of "subscribe" threw: ${failure.stack}` });
    expect(errors[1]).toEqual({ err: 'a string', code: 'handler_failed', message: 'livehub: the handler or middleware of "ping" threw: a string' });
  });

  it('that throws null answers internal', async () => {
    const { router, receive, replies, errors, settled } = setup();
    router.addMiddleware('*', () => { throw null; });
    const s = session();
    receive(s, { type: 'ping', id: 1 });
    await settled(s);
    expect(replies).toEqual([['c1', { type: 'error', code: 'internal', message: 'the server failed to handle this message', id: 1 }]]);
    expect(errors).toEqual([{ err: null, code: 'handler_failed', message: 'livehub: the handler or middleware of "ping" threw: null' }]);
  });

  it('that fails after its connection closed answers nothing', async () => {
    const { router, receive, replies, settled } = setup();
    const s = session();
    router.addMiddleware('*', async () => { s.state = 'closed'; throw new HandlerError('nope', 'no'); });
    receive(s, { type: 'ping', id: 1 });
    await settled(s);
    expect(replies).toEqual([]);
  });
});

describe('a handler', () => {
  it('answers with what it returns, null for nothing, and nothing when the message has no id', async () => {
    const { router, receive, replies, settled } = setup();
    router.addHandler('order', (message) => (message.data === 'none' ? undefined : { got: message.data }));
    router.addHandler('later', async () => 'done');
    const s = session();
    receive(s, { type: 'order', data: 1, id: 1 });
    receive(s, { type: 'order', data: 'none', id: 2 });
    receive(s, { type: 'order', data: 3 });
    receive(s, { type: 'later', id: 'l' });
    await settled(s);
    await expect.poll(() => replies).toHaveLength(3);
    expect(replies).toEqual([
      ['c1', { type: 'reply', id: 1, data: { got: 1 } }],
      ['c1', { type: 'reply', id: 2, data: null }],
      ['c1', { type: 'reply', id: 'l', data: 'done' }],
    ]);
  });

  it('answers once: kit.reply first wins over what it returns', async () => {
    const { router, receive, replies } = setup();
    router.addHandler('order', (_m, _c, kit) => { kit.reply('first'); kit.reply('second'); return 'returned'; });
    receive(session(), { type: 'order', id: 1 });
    await expect.poll(() => replies).toEqual([['c1', { type: 'reply', id: 1, data: 'first' }]]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(replies).toHaveLength(1);
  });

  it('fails with an app code, logged as a refusal, or with internal for a code that is not one', () => {
    const { router, receive, replies, reports } = setup();
    router.addHandler('order', (message, _c, kit) => { if (message.data === 1) kit.fail('out_of_stock', 'none left'); else if (message.data === 2) kit.fail('out_of_stock'); else kit.fail('Bad Code', 'x'); });
    const s = session();
    receive(s, { type: 'order', data: 1, id: 1 });
    receive(s, { type: 'order', data: 2, id: 2 });
    receive(s, { type: 'order', data: 3, id: 3 });
    expect(replies).toEqual([
      ['c1', { type: 'error', code: 'out_of_stock', message: 'none left', id: 1 }],
      ['c1', { type: 'error', code: 'out_of_stock', message: 'out_of_stock', id: 2 }],
      ['c1', { type: 'error', code: 'internal', message: 'x', id: 3 }],
    ]);
    expect(reports.map((r) => r.message)).toEqual([
      'livehub: the handler or middleware of "order" refused a request of an anonymous connection (c1) with \'out_of_stock\': none left; the client was answered with that code',
      'livehub: the handler or middleware of "order" refused a request of an anonymous connection (c1) with \'out_of_stock\': out_of_stock; the client was answered with that code',
    ]);
  });

  it('that throws or rejects answers as a middleware that threw', async () => {
    const { router, receive, replies } = setup();
    router.addHandler('sync', () => { throw new HandlerError('not_allowed', 'no'); });
    router.addHandler('async', async () => { throw new HandlerError('not_allowed', 'later no'); });
    const s = session();
    receive(s, { type: 'sync', id: 1 });
    receive(s, { type: 'async', id: 2 });
    await expect.poll(() => replies).toEqual([
      ['c1', { type: 'error', code: 'not_allowed', message: 'no', id: 1 }],
      ['c1', { type: 'error', code: 'not_allowed', message: 'later no', id: 2 }],
    ]);
  });

  it('that throws is answered once, with no timeout after, and not at all for a message without an id', async () => {
    vi.useFakeTimers();
    const { router, receive, replies, reports } = setup({ handlerTimeout: 500 });
    router.addHandler('sync', () => { throw new HandlerError('not_allowed', 'no'); });
    receive(session(), { type: 'sync', id: 1 });
    receive(session(), { type: 'sync' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(replies).toEqual([['c1', { type: 'error', code: 'not_allowed', message: 'no', id: 1 }]]);
    expect(reports.map((r) => r.code)).toEqual(['request_refused', 'request_refused']);
  });

  it('that does not answer within handlerTimeout is answered timeout and logged, and its late answer dropped', async () => {
    vi.useFakeTimers();
    const { router, receive, replies, reports } = setup({ handlerTimeout: 500 });
    let late!: (v: unknown) => void;
    router.addHandler('slow', () => new Promise((resolve) => { late = resolve; }));
    receive(session(), { type: 'slow', id: 1 });
    await vi.advanceTimersByTimeAsync(499);
    expect(replies).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(replies).toEqual([['c1', { type: 'error', code: 'timeout', message: 'no answer within 500 ms', id: 1 }]]);
    expect(reports).toEqual([{ level: 'warn', code: 'handler_timeout', cause: 'handler_timeout:slow', message: 'livehub: the handler of "slow" did not answer within handlerTimeout (500 ms); the client was answered \'timeout\'' }]);
    late('too late');
    await vi.advanceTimersByTimeAsync(0);
    expect(replies).toHaveLength(1);
  });

  it('that answers in time leaves no timer, and one without an id gets none', async () => {
    vi.useFakeTimers();
    const { router, receive, replies } = setup({ handlerTimeout: 500 });
    router.addHandler('quick', () => 'ok');
    router.addHandler('never', () => new Promise(() => {}));
    receive(session(), { type: 'quick', id: 1 });
    receive(session(), { type: 'never' });
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(replies).toEqual([['c1', { type: 'reply', id: 1, data: 'ok' }]]);
  });

  it('answers nothing once its connection closed', async () => {
    const { router, receive, replies } = setup();
    const s = session();
    router.addHandler('order', async () => { s.state = 'closed'; return 'x'; });
    receive(s, { type: 'order', id: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(replies).toEqual([]);
  });

  it('runs after middleware for its type', async () => {
    const { router, receive, replies, settled } = setup();
    const order: string[] = [];
    router.addMiddleware('order', (async (_m, _c, next) => { order.push('middleware'); await next(); }) as Middleware);
    router.addHandler('order', () => { order.push('handler'); return 1; });
    const s = session();
    receive(s, { type: 'order', id: 1 });
    await settled(s);
    expect(order).toEqual(['middleware', 'handler']);
    await expect.poll(() => replies).toEqual([['c1', { type: 'reply', id: 1, data: 1 }]]);
  });
});
