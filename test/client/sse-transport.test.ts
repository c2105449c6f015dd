import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveClient, type LiveClientOptions } from '../../client/index.js';
import { FakeEventSource } from './fake-socket.js';

interface Post { token: string; body: any; done?: boolean; resolve(status?: number, body?: object): void }
let posts: Post[];

beforeEach(() => {
  FakeEventSource.all = [];
  posts = [];
  vi.stubGlobal('fetch', (_url: string, init: { headers: Record<string, string>; body: string }) => new Promise((resolve) => {
    posts.push({
      token: init.headers['X-Livehub-Stream']!,
      body: JSON.parse(init.body),
      resolve: (status = 202, body = {}) => resolve(new Response(JSON.stringify(body), { status })),
    });
  }));
});
afterEach(() => { vi.unstubAllGlobals(); });

const clients: LiveClient[] = [];
afterEach(() => { for (const c of clients.splice(0)) c.dispose(); });

function client(options: LiveClientOptions = {}) {
  const c = new LiveClient('ws://hub.test/ws', { transport: 'sse', EventSource: FakeEventSource, random: () => 0.5, reconnect: { delay: 10 }, ...options });
  clients.push(c);
  return c;
}

/** Answers every POST (202) as they come, until none has come for a few turns. */
async function answerAll() {
  for (let idle = 0; idle < 3;) {
    await new Promise((r) => setTimeout(r, 0));
    const open = posts.filter((p) => !p.done);
    idle = open.length === 0 ? idle + 1 : 0;
    for (const post of open) {
      post.done = true;
      post.resolve();
    }
  }
}

describe('the SSE transport', () => {
  it('opens the stream with events=unnamed on the derived URL and is open once the stream\'s token arrives', () => {
    const c = client();
    const source = FakeEventSource.last();
    expect(source.url).toBe('http://hub.test/events?events=unnamed');
    expect(c.status).toBe('connecting');
    source.emit({ type: 'stream', token: 'n.s.secret' });
    expect(c.status).toBe('open');
  });

  it('sends commands as POSTs with the stream token, one at a time and in order', async () => {
    const c = client();
    FakeEventSource.last().emit({ type: 'stream', token: 'n.s.secret' });
    c.subscribe('a');
    c.publish('a', 'said', 1).catch(() => {});
    c.publish('a', 'said', 2).catch(() => {});
    await new Promise((r) => setTimeout(r, 10));
    expect(posts).toHaveLength(1); // the next waits for the first to be answered
    expect(posts[0]).toMatchObject({ token: 'n.s.secret', body: { type: 'subscribe', channel: 'a' } });
    await answerAll();
    expect(posts.map((p) => [p.body.type, p.body.data])).toEqual([['subscribe', undefined], ['publish', 1], ['publish', 2]]);
  });

  it('after the EventSource reconnects by itself, subscribes only the channels its last event id did not resume', async () => {
    const c = client();
    const source = FakeEventSource.last();
    source.emit({ type: 'stream', token: 't1' });
    c.subscribe('a');
    c.subscribe('b');
    await answerAll();
    source.emit({ type: 'subscribed', channel: 'a', offset: 4, epoch: 'e', id: posts[0]!.body.id }, 'a 4 e');
    source.emit({ type: 'subscribed', channel: 'b', offset: 0, epoch: 'e', id: posts[1]!.body.id }, 'a 4 e b 0 e');
    source.emit({ channel: 'a', type: 'm', data: 'five', offset: 5 }, 'a 5 e b 0 e');
    c.unsubscribe('b');
    await answerAll();
    posts.length = 0;
    const statuses: string[] = [];
    c.events.on('status', (s) => statuses.push(s));
    source.fail();
    expect(statuses).toEqual(['reconnecting']);
    expect(FakeEventSource.all).toHaveLength(1); // no new EventSource: it reconnects by itself
    const recovered: unknown[] = [];
    c.events.on('recovered', (e) => recovered.push(e));
    c.subscribe('c');
    source.emit({ type: 'stream', token: 't2' });
    await answerAll();
    // 'a' was resumed by the server; 'b' (resumed, no longer wanted) is unsubscribed; 'c' is new.
    expect(posts.map((p) => [p.token, p.body.type, p.body.channel])).toEqual([['t2', 'subscribe', 'c'], ['t2', 'unsubscribe', 'b']]);
    source.emit({ type: 'subscribed', channel: 'a', offset: 7, epoch: 'e', recovered: true });
    expect(recovered).toEqual([{ channel: 'a', from: 5, to: 7 }]);
  });

  it('opens a fresh EventSource, after backoff, when one gives up, and resubscribes from its positions', async () => {
    const c = client();
    const first = FakeEventSource.last();
    first.emit({ type: 'stream', token: 't1' });
    c.subscribe('a');
    await answerAll();
    first.emit({ type: 'subscribed', channel: 'a', offset: 3, epoch: 'e', id: posts[0]!.body.id }, 'a 3 e');
    posts.length = 0;
    first.fail(true, 503);
    expect(c.status).toBe('reconnecting');
    await vi.waitFor(() => expect(FakeEventSource.all).toHaveLength(2));
    FakeEventSource.last().emit({ type: 'stream', token: 't2' });
    await answerAll();
    expect(posts.map((p) => p.body)).toEqual([{ type: 'subscribe', channel: 'a', since: { offset: 3, epoch: 'e' }, id: expect.any(String) }]);
  });

  it('reports an attempt whose stream never starts as connect_failed with the HTTP status', async () => {
    const c = client();
    const errors: Array<{ code: string; message: string }> = [];
    c.events.on('error', (e) => errors.push(e as never));
    FakeEventSource.last().fail(true, 403);
    expect(errors[0]).toMatchObject({ code: 'connect_failed', message: expect.stringContaining('http://hub.test/events') });
    expect(errors[0]!.message).toContain('HTTP 403');
    expect(FakeEventSource.all[0]!.closed).toBe(true);
  });

  it('reopens with a fresh token at once when the server ends the stream with 4002 (token expired)', async () => {
    let n = 0;
    const c = client({ getToken: () => `tok${++n}` });
    await vi.waitFor(() => expect(FakeEventSource.all).toHaveLength(1));
    expect(FakeEventSource.last().url).toBe('http://hub.test/events?events=unnamed&token=tok1');
    FakeEventSource.last().emit({ type: 'stream', token: 't1' });
    FakeEventSource.last().emit({ type: 'close', code: 4002, reason: 'token expired' });
    expect(FakeEventSource.all[0]!.closed).toBe(true);
    await vi.waitFor(() => expect(FakeEventSource.all).toHaveLength(2));
    expect(FakeEventSource.last().url).toBe('http://hub.test/events?events=unnamed&token=tok2');
    FakeEventSource.last().emit({ type: 'stream', token: 't2' });
    expect(c.status).toBe('open');
  });

  it('lets the EventSource reconnect by itself after a reconnectable close event, and stops on a terminal one', () => {
    const c = client();
    const source = FakeEventSource.last();
    source.emit({ type: 'stream', token: 't1' });
    source.emit({ type: 'close', code: 1001, reason: 'server shutting down' });
    source.fail(); // the end of the stream that follows
    expect(c.status).toBe('reconnecting');
    expect(source.closed).toBe(false);
    source.emit({ type: 'stream', token: 't2' });
    expect(c.status).toBe('open');
    source.emit({ type: 'close', code: 4503, reason: 'banned' });
    expect(source.closed).toBe(true);
    expect(c.status).toBe('closed');
    expect(FakeEventSource.all).toHaveLength(1);
  });

  it('treats a POST answered 404 (the server no longer knows the stream) as a lost stream and opens a fresh one', async () => {
    const c = client();
    FakeEventSource.last().emit({ type: 'stream', token: 't1' });
    c.subscribe('a');
    await vi.waitFor(() => expect(posts).toHaveLength(1));
    posts[0]!.resolve(404, { error: { code: 'no_stream', message: 'no such stream here' } });
    await vi.waitFor(() => expect(FakeEventSource.all).toHaveLength(2));
    expect(FakeEventSource.all[0]!.closed).toBe(true);
  });

  it('reports a POST refused with another status as an error carrying the server\'s code', async () => {
    const c = client();
    const errors: Array<{ code: string }> = [];
    c.events.on('error', (e) => errors.push(e as never));
    FakeEventSource.last().emit({ type: 'stream', token: 'n2.s.x' });
    c.subscribe('a');
    await vi.waitFor(() => expect(posts).toHaveLength(1));
    posts[0]!.resolve(503, { error: { code: 'unavailable', message: 'the stream\'s node could not be reached; retry' } });
    await vi.waitFor(() => expect(errors).toEqual([expect.objectContaining({ code: 'unavailable' })]));
    expect(c.status).toBe('open');
  });

  it('pings through a POST after heartbeat.interval of silence, and replaces a stream that does not answer', async () => {
    const c = client({ heartbeat: { interval: 30, timeout: 30 } });
    const source = FakeEventSource.last();
    source.emit({ type: 'stream', token: 't1' });
    await vi.waitFor(() => expect(posts.map((p) => p.body)).toEqual([{ type: 'ping' }]));
    posts[0]!.resolve();
    source.emit({ type: 'pong' }); // answered: still the same stream
    await vi.waitFor(() => expect(posts).toHaveLength(2));
    posts[1]!.resolve(); // not answered on the stream
    await vi.waitFor(() => expect(FakeEventSource.all).toHaveLength(2));
    expect(source.closed).toBe(true);
    expect(c.status).not.toBe('open');
  });
});
