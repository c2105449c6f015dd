import { afterEach, describe, expect, it } from 'vitest';
import { MemoryEngine, type Engine, type Publication, type PublishOptions, type PublishResult } from '../../pkg/engine/index.js';
import { HubEvents } from '../../pkg/core/events.js';
import { resolveOptions, type HubOptions } from '../../pkg/core/options.js';
import { checkChannel, checkType, encodeData, Publisher, publisherOf } from '../../pkg/core/publisher.js';
import { LivehubError } from '../../pkg/core/report.js';

type Report = { level: string; code: string; message: string; err: unknown; cause: string | undefined };
type EngineCall = { channel: string; type: string; dataJson: string; policy: unknown; extra: PublishOptions };

/**
 * A memory engine that records what each publish was given, and can fail its next publishes: by
 * throwing `failWith`, or (`async`) by answering with a promise, as Redis does.
 */
class RecordingEngine extends MemoryEngine {
  calls: EngineCall[] = [];
  failWith: unknown[] = [];
  async = false;
  override publish(channel: string, type: string, dataJson: string, policy: Parameters<MemoryEngine['publish']>[3], extra: PublishOptions = {}): PublishResult {
    this.calls.push({ channel, type, dataJson, policy, extra });
    const failing = this.failWith.length > 0;
    const error = this.failWith.shift();
    if (this.async) return (failing ? Promise.reject(error) : Promise.resolve(super.publish(channel, type, dataJson, policy, extra))) as never;
    if (failing) throw error;
    return super.publish(channel, type, dataJson, policy, extra);
  }
}

let cleanups: Array<() => void> = [];
afterEach(() => { cleanups.forEach((c) => c()); cleanups = []; });

function setup(hubOptions: HubOptions = {}) {
  const engine = new RecordingEngine();
  const delivered: Publication[] = [];
  engine.start({ node: 'n1', message: () => {}, deliver: (p) => delivered.push(p), reset: () => {} });
  cleanups.push(() => engine.close());
  const reports: Report[] = [];
  const reporter = { report: (level: string, code: string, message: string, err?: unknown, cause?: string) => { reports.push({ level, code, message, err, cause }); }, error: () => {} };
  const events = new HubEvents(() => {});
  const state = { closing: false };
  const publisher = new Publisher(engine as Engine, resolveOptions({ logger: false, ...hubOptions }), reporter as never, events, () => state.closing);
  return { publisher, engine, delivered, reports, events, state };
}

/** A connection as the publisher sees it. */
function session(id: string, userId?: string) {
  return { id, identity: userId === undefined ? null : { userId } } as never;
}

/** A client publish with its replies collected. */
function fromClient(publisher: Publisher, who: ReturnType<typeof session>, command: Record<string, unknown>) {
  const replies: unknown[] = [];
  publisher.fromClient(who, { type: 'publish', channel: 'room', event: 'said', ...command } as never, (_s, reply) => replies.push(reply));
  return replies;
}

describe('checks of a publish', () => {
  it('name the allowed characters for a bad channel and a bad type, and refuse the hub\'s own channels', () => {
    expect(() => checkChannel('has space')).toThrow(new TypeError('livehub: invalid channel name "has space": use 1-255 characters of A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $, or "*"'));
    expect(() => checkChannel('#presence')).toThrow(new TypeError('livehub: channel "#presence" starts with "#": those channels are the hub\'s own (clients and the HTTP API are refused them too)'));
    expect(() => checkChannel('a#b')).not.toThrow();
    expect(() => checkChannel('*')).not.toThrow();
    expect(() => checkType('')).toThrow(new TypeError('livehub: invalid message type "": use 1-255 characters of A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $'));
    expect(() => checkType('created')).not.toThrow();
  });

  it('encode data as JSON, undefined as null, and say why data cannot be', () => {
    expect(encodeData({ n: 1 })).toBe('{"n":1}');
    expect(encodeData(undefined)).toBe('null');
    expect(encodeData(0)).toBe('0');
    expect(() => encodeData({ n: 1n })).toThrow(new TypeError('livehub: data cannot be encoded as JSON: Do not know how to serialize a BigInt'));
  });

  it('stamp a publisher with its user when it has one, and echo: false only for except-self', () => {
    expect(publisherOf(session('c1'), false)).toStrictEqual({ client: 'c1' });
    expect(publisherOf(session('c1', 'ada'), false)).toEqual({ user: 'ada', client: 'c1' });
    expect(publisherOf(session('c1', 'ada'), true)).toEqual({ user: 'ada', client: 'c1', echo: false });
    expect(publisherOf(session('c1'), false)).not.toHaveProperty('echo');
  });
});

describe('Publisher.publish', () => {
  it('publishes with no extra options and the channel\'s history policy, and resolves with the position', async () => {
    const { publisher, engine, delivered } = setup({ history: { size: 7, ttl: 1000, channels: [{ match: 'chat:*', size: 3, ttl: 500 }] } });
    await expect(publisher.publish('orders', 'created', { n: 1 })).resolves.toEqual({ offset: 1, epoch: expect.any(String) });
    await publisher.publish('chat:1', 'said', 'hi');
    expect(engine.calls.map(({ channel, type, dataJson, policy, extra }) => [channel, type, dataJson, policy, extra])).toStrictEqual([
      ['orders', 'created', '{"n":1}', { size: 7, ttl: 1000 }, {}],
      ['chat:1', 'said', '"hi"', expect.objectContaining({ size: 3, ttl: 500 }), {}],
    ]);
    expect(delivered.map((p) => p.data)).toEqual(['{"n":1}', '"hi"']);
  });

  it('throws a TypeError for options that are not an object, and names an unknown option', () => {
    const { publisher, engine } = setup();
    expect(() => publisher.publish('a', 'x', 1, null as never)).toThrow(new TypeError('livehub: publish options must be an object'));
    expect(() => publisher.publish('a', 'x', 1, 'key' as never)).toThrow(new TypeError('livehub: publish options must be an object'));
    expect(() => publisher.publish('a', 'x', 1, { idempotency: 'k' } as never)).toThrow(/hub\.publish\(\).*idempotency/);
    expect(() => publisher.publish('a b', 'x', 1)).toThrow(/invalid channel name/);
    expect(() => publisher.publish('a', 'x y', 1)).toThrow(/invalid message type/);
    expect(() => publisher.publish('a', 'x', 1n)).toThrow(/cannot be encoded as JSON/);
    expect(engine.calls).toEqual([]);
  });

  it('refuses an exceptClient that is not a connection id', () => {
    const { publisher, engine } = setup();
    const refused = new TypeError('livehub: exceptClient must be a connection id');
    for (const exceptClient of [7, '', 'a"b', null]) {
      expect(() => publisher.publish('a', 'x', 1, { exceptClient: exceptClient as never })).toThrow(refused);
    }
    expect(engine.calls).toEqual([]);
  });

  it('stamps an exceptClient as a publisher the connection does not get it from', async () => {
    const { publisher, engine, delivered } = setup();
    await publisher.publish('a', 'x', 1, { exceptClient: 'c7' });
    expect(engine.calls[0]!.extra).toStrictEqual({ from: { client: 'c7', echo: false } });
    expect(delivered[0]!.from).toEqual({ client: 'c7', echo: false });
  });

  it('refuses tags that are not tags, and passes tags on', async () => {
    const { publisher, engine } = setup();
    expect(() => publisher.publish('a', 'x', 1, { tags: { 'not a key': 'v' } })).toThrow(new TypeError('livehub: tags must be an object of at most 16 tags: keys of A-Z a-z 0-9 _ -, string values of at most 256 characters'));
    expect(engine.calls).toEqual([]);
    await publisher.publish('a', 'x', 1, { tags: { level: 'alert' } });
    expect(engine.calls[0]!.extra).toEqual({ tags: { level: 'alert' } });
  });

  it('refuses an idempotency key that is not a string of 1-128 characters', () => {
    const { publisher, engine } = setup();
    const refused = new TypeError('livehub: idempotencyKey must be a string of 1-128 characters');
    for (const idempotencyKey of ['', 'k'.repeat(129), 42, null]) {
      expect(() => publisher.publish('a', 'x', 1, { idempotencyKey: idempotencyKey as never })).toThrow(refused);
    }
    expect(engine.calls).toEqual([]);
  });

  it('makes a publish with a key of 1 to 128 characters idempotent for publishDedupeWindow, in the server\'s own key space', async () => {
    const { publisher, engine, delivered } = setup({ publishDedupeWindow: 60_000 });
    for (const key of ['k', 'k'.repeat(128)]) {
      const first = await publisher.publish('a', 'x', 1, { idempotencyKey: key });
      await expect(publisher.publish('a', 'x', 1, { idempotencyKey: key })).resolves.toEqual({ ...first, duplicate: true });
    }
    expect(engine.calls.map((c) => c.extra)).toEqual([
      { idempotencyKey: 'server:k', idempotencyTtl: 60_000 }, { idempotencyKey: 'server:k', idempotencyTtl: 60_000 },
      { idempotencyKey: `server:${'k'.repeat(128)}`, idempotencyTtl: 60_000 }, { idempotencyKey: `server:${'k'.repeat(128)}`, idempotencyTtl: 60_000 },
    ]);
    expect(delivered).toHaveLength(2);
  });

  it('passes every option on together', async () => {
    const { publisher, engine } = setup({ publishDedupeWindow: 5000 });
    await publisher.publish('a', 'x', 1, { idempotencyKey: 'k', tags: { t: 'v' }, exceptClient: 'c1' });
    expect(engine.calls[0]!.extra).toEqual({ idempotencyKey: 'server:k', idempotencyTtl: 5000, tags: { t: 'v' }, from: { client: 'c1', echo: false } });
  });
});

describe('a publish\'s outcome', () => {
  it('is the message.published event, with the publisher when there is one, and none for a duplicate', async () => {
    const { publisher, events } = setup();
    const published: unknown[] = [];
    events.on('message.published', (e) => published.push(e));
    const first = await publisher.publish('a', 'x', 1, { idempotencyKey: 'k' });
    await publisher.publish('a', 'x', 1, { idempotencyKey: 'k' });
    await publisher.publish('b', 'y', 2, { exceptClient: 'c1' });
    expect(published).toEqual([
      { channel: 'a', type: 'x', offset: first.offset, epoch: first.epoch },
      { channel: 'b', type: 'y', offset: 1, epoch: expect.any(String), from: { client: 'c1', echo: false } },
    ]);
  });

  it('is a trace span per publish: its traceparent and the publish time go with the message, and it ends with the position', async () => {
    const { publisher, engine } = setup();
    const spans: Array<{ channel: string; type: string; outcome?: unknown }> = [];
    publisher.tracer = (channel, type) => {
      const span: (typeof spans)[number] = { channel, type };
      spans.push(span);
      return { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', done: (outcome) => { span.outcome = outcome; } };
    };
    const before = Date.now();
    const position = await publisher.publish('a', 'x', 1);
    expect(spans).toEqual([{ channel: 'a', type: 'x', outcome: position }]);
    const { trace } = engine.calls[0]!.extra;
    expect(trace).toEqual({ ts: expect.any(Number), tp: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    expect(trace!.ts).toBeGreaterThanOrEqual(before);
    expect(trace!.ts).toBeLessThanOrEqual(Date.now());
  });

  it('carries the publish time only, when the span was not sampled or only delivery latency is measured', async () => {
    const { publisher, engine, events } = setup();
    await publisher.publish('a', 'x', 1);
    expect(engine.calls[0]!.extra).toEqual({});
    publisher.tracer = () => ({ traceparent: undefined, done: () => {} });
    await publisher.publish('a', 'x', 2);
    expect(engine.calls[1]!.extra).toEqual({ trace: { ts: expect.any(Number) } });
    publisher.tracer = null;
    events.on('message.delivered', () => {});
    await publisher.publish('a', 'x', 3, { tags: { t: 'v' } });
    expect(engine.calls[2]!.extra).toEqual({ tags: { t: 'v' }, trace: { ts: expect.any(Number) } });
  });

  it('ends the span with the failure, an Error even when the engine threw something else', async () => {
    const { publisher, engine } = setup();
    const outcomes: unknown[] = [];
    publisher.tracer = () => ({ traceparent: undefined, done: (outcome) => outcomes.push(outcome) });
    engine.failWith = [new Error('READONLY'), 'plain refusal'];
    await expect(publisher.publish('a', 'x', 1)).rejects.toThrow(/READONLY/);
    await expect(publisher.publish('a', 'x', 1)).rejects.toThrow(/plain refusal/);
    expect(outcomes).toEqual([new Error('READONLY'), new Error('plain refusal')]);
    expect(outcomes[1]).toBeInstanceOf(Error);
  });
});

describe('a failed publish', () => {
  it('rejects with code unavailable, logs the cause and what to check, and emits the error event', async () => {
    const { publisher, engine, reports, events } = setup();
    const errors: unknown[] = [];
    events.on('error', (e) => errors.push(e));
    const cause = new Error('NOPERM no permissions');
    engine.failWith = [cause];
    const failure = await publisher.publish('orders', 'x', 1).catch((e: LivehubError) => e);
    expect(failure).toBeInstanceOf(LivehubError);
    expect(failure).toMatchObject({ code: 'unavailable', message: 'livehub: publish to orders failed: NOPERM no permissions', cause });
    expect(reports).toEqual([{
      level: 'error', code: 'publish_failed', err: failure, cause: 'publish_failed:NOPERM no permissions',
      message: 'livehub: publish to orders failed: NOPERM no permissions; the message was not published (check the engine: its connection, REDIS_URL)',
    }]);
    expect(errors).toEqual([{ code: 'publish_failed', message: 'livehub: publish to orders failed: NOPERM no permissions', error: failure }]);
  });

  it('rejects with code outcome_unknown when the engine may have published it, and says a retry with the key settles it', async () => {
    const { publisher, engine, reports } = setup();
    engine.async = true;
    engine.failWith = [Object.assign(new Error('timed out'), { code: 'outcome_unknown' })];
    const failure = await publisher.publish('orders', 'x', 1).catch((e: LivehubError) => e);
    expect(failure).toMatchObject({ name: 'LivehubError', code: 'outcome_unknown', message: 'livehub: publish to orders failed: timed out' });
    expect(reports[0]!.message).toBe('livehub: publish to orders failed: timed out; it may or may not have been published (a retry with the same idempotency key settles it without a duplicate) (check the engine: its connection, REDIS_URL)');
  });

  it('passes on an engine\'s own explanation (livehub\'s engines say where and what to do) without wrapping or repeating advice', async () => {
    const { publisher, engine, reports } = setup();
    const said = "livehub: publish to channel 'orders' failed: Redis at 127.0.0.1:6379 is unreachable (connect ECONNREFUSED); check REDIS_URL; retry later";
    const cause = Object.assign(new Error(said), { code: 'unavailable' });
    engine.failWith = [cause];
    const failure = await publisher.publish('orders', 'x', 1).catch((e: LivehubError) => e);
    expect(failure).toMatchObject({ name: 'LivehubError', code: 'unavailable', message: said, cause });
    expect(reports.map((r) => r.message)).toEqual([said]);
  });

  it('keeps an engine\'s own LivehubError of the same code, and wraps one of another code', async () => {
    const { publisher, engine } = setup();
    const own = new LivehubError('unavailable', 'engine down');
    const other = new LivehubError('timeout', 'slow');
    engine.failWith = [own, other];
    await expect(publisher.publish('a', 'x', 1)).rejects.toBe(own);
    const wrapped = await publisher.publish('a', 'x', 1).catch((e: LivehubError) => e);
    expect(wrapped).not.toBe(other);
    expect(wrapped).toMatchObject({ code: 'unavailable', message: 'livehub: publish to a failed: slow', cause: other });
  });

  it('takes a thrown non-Error, null included, as its cause', async () => {
    const { publisher, engine, reports } = setup();
    engine.failWith = [null, 'refused'];
    await expect(publisher.publish('a', 'x', 1)).rejects.toMatchObject({ code: 'unavailable', message: 'livehub: publish to a failed: null' });
    await expect(publisher.publish('a', 'x', 1)).rejects.toMatchObject({ code: 'unavailable', message: 'livehub: publish to a failed: refused' });
    expect(reports.map((r) => r.cause)).toEqual(['publish_failed:null', 'publish_failed:refused']);
  });

  it('rejects with code closed once the hub is closing, publishing nothing', async () => {
    const { publisher, engine, reports, state: s } = setup();
    s.closing = true;
    const failure = await publisher.publish('orders', 'x', 1).catch((e: LivehubError) => e);
    expect(failure).toMatchObject({ name: 'LivehubError', code: 'closed', message: 'livehub: publish to orders after hub.close(); nothing was published' });
    expect(engine.calls).toEqual([]);
    expect(reports).toEqual([expect.objectContaining({ level: 'error', code: 'publish_failed', err: failure, message: 'livehub: publish to orders after hub.close(); nothing was published' })]);
  });

  it('never becomes an unhandled rejection when nobody awaits it', async () => {
    const { publisher, engine, reports } = setup();
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    cleanups.push(() => process.off('unhandledRejection', listener));
    engine.failWith = [new Error('down')];
    void publisher.publishJson('a', 'x', '1');
    engine.async = true;
    engine.failWith = [new Error('down')];
    void publisher.publishJson('a', 'x', '2');
    await expect.poll(() => reports.length).toBe(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  });
});

describe('an announcement (publishJson with announce)', () => {
  it('is published while the hub closes', async () => {
    const { publisher, engine, state: s } = setup();
    s.closing = true;
    await expect(publisher.publishJson('presence-room', 'leave', '{"userId":"ada"}', {}, true)).resolves.toMatchObject({ offset: 1 });
    expect(engine.calls.map((c) => [c.channel, c.type, c.dataJson])).toEqual([['presence-room', 'leave', '{"userId":"ada"}']]);
  });

  it('that fails while the hub closes is noted at info, with its own error', async () => {
    const { publisher, engine, reports, state: s } = setup();
    s.closing = true;
    const gone = new Error('engine closed');
    engine.failWith = [gone];
    await expect(publisher.publishJson('presence-room', 'leave', '{}', {}, true)).rejects.toBe(gone);
    expect(reports).toEqual([{ level: 'info', code: 'announce_skipped', message: 'livehub: a leave announcement on presence-room was not published while the hub closed: engine closed', err: undefined, cause: undefined }]);
    engine.failWith = ['gone too'];
    await expect(publisher.publishJson('presence-room', 'leave', '{}', {}, true)).rejects.toBe('gone too');
    expect(reports[1]!.message).toBe('livehub: a leave announcement on presence-room was not published while the hub closed: gone too');
  });

  it('that fails while the hub runs is a failed publish like any other', async () => {
    const { publisher, engine, reports } = setup();
    engine.failWith = [new Error('down')];
    await expect(publisher.publishJson('presence-room', 'join', '{}', {}, true)).rejects.toMatchObject({ code: 'unavailable' });
    expect(reports).toEqual([expect.objectContaining({ level: 'error', code: 'publish_failed' })]);
  });
});

describe('Publisher.fromClient', () => {
  it('acks a publish that has an id with its position, and answers nothing to one without', () => {
    const { publisher, engine } = setup();
    expect(fromClient(publisher, session('c1'), { data: { n: 1 }, id: 5 })).toEqual([{ type: 'ack', id: 5, offset: 1, epoch: expect.any(String) }]);
    expect(fromClient(publisher, session('c1'), { data: 2 })).toEqual([]);
    expect(engine.calls.map((c) => [c.channel, c.type, c.dataJson, c.extra])).toStrictEqual([
      ['room', 'said', '{"n":1}', { from: { client: 'c1' } }],
      ['room', 'said', '2', { from: { client: 'c1' } }],
    ]);
  });

  it('publishes missing data as null, with the publisher, its tags and except-self', () => {
    const { publisher, engine } = setup();
    fromClient(publisher, session('c1', 'ada'), { tags: { t: 'v' }, exceptSelf: true, id: 1 });
    fromClient(publisher, session('c1', 'ada'), { exceptSelf: 'yes', id: 2 });
    expect(engine.calls.map((c) => [c.dataJson, c.extra])).toStrictEqual([
      ['null', { from: { user: 'ada', client: 'c1', echo: false }, tags: { t: 'v' } }],
      ['null', { from: { user: 'ada', client: 'c1' } }],
    ]);
  });

  it('makes a publish with a string id idempotent per user for publishDedupeWindow: a retry is acked again and published once', () => {
    const { publisher, engine, delivered } = setup({ publishDedupeWindow: 9000 });
    const first = fromClient(publisher, session('c1', 'ada'), { data: 1, id: 'p1' });
    const retry = fromClient(publisher, session('c2', 'ada'), { data: 1, id: 'p1' });
    expect(retry).toEqual(first);
    fromClient(publisher, session('c3'), { data: 1, id: 'p1' });
    expect(engine.calls.map((c) => [c.extra.idempotencyKey, c.extra.idempotencyTtl])).toEqual([['publish:ada:p1', 9000], ['publish:ada:p1', 9000], ['publish::p1', 9000]]);
    expect(delivered).toHaveLength(2);
  });

  it('answers bad_data, echoing the id, for data JSON cannot encode, and publishes nothing', () => {
    const { publisher, engine } = setup();
    expect(fromClient(publisher, session('c1'), { data: { n: 1n }, id: 3 })).toEqual([{ type: 'error', code: 'bad_data', channel: 'room', message: 'data cannot be encoded as JSON', id: 3 }]);
    expect(fromClient(publisher, session('c1'), { data: { n: 1n } })).toEqual([{ type: 'error', code: 'bad_data', channel: 'room', message: 'data cannot be encoded as JSON' }]);
    expect(engine.calls).toEqual([]);
  });

  it('answers unavailable when the engine failed, and outcome_unknown when it may have published, echoing the id', async () => {
    const { publisher, engine } = setup();
    engine.failWith = [new Error('down')];
    expect(fromClient(publisher, session('c1'), { data: 1, id: 'a' })).toEqual([{ type: 'error', code: 'unavailable', channel: 'room', message: 'publish to room failed; nothing was published; retry later', id: 'a' }]);
    engine.async = true;
    engine.failWith = [Object.assign(new Error('timed out'), { code: 'outcome_unknown' })];
    const replies = fromClient(publisher, session('c1'), { data: 1, id: 'b' });
    await expect.poll(() => replies).toEqual([{ type: 'error', code: 'outcome_unknown', channel: 'room', message: 'publish to room: the engine did not answer, so it may have been published; retry with the same id', id: 'b' }]);
    engine.failWith = [new Error('down')];
    const unnamed = fromClient(publisher, session('c1'), { data: 1 });
    await expect.poll(() => unnamed).toEqual([{ type: 'error', code: 'unavailable', channel: 'room', message: 'publish to room failed; nothing was published; retry later' }]);
  });

  it('acks a publish the engine answers later', async () => {
    const { publisher, engine } = setup();
    engine.async = true;
    const replies = fromClient(publisher, session('c1'), { data: 1, id: 9 });
    expect(replies).toEqual([]);
    await expect.poll(() => replies).toEqual([{ type: 'ack', id: 9, offset: 1, epoch: expect.any(String) }]);
  });

  it('answers closed as unavailable once the hub is closing', () => {
    const { publisher, engine, state: s } = setup();
    s.closing = true;
    expect(fromClient(publisher, session('c1'), { data: 1, id: 1 })).toEqual([expect.objectContaining({ type: 'error', code: 'unavailable', id: 1 })]);
    expect(engine.calls).toEqual([]);
  });
});
