import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { eventually, fieldsOf, KEEP, type StartedEngine, type SuiteContext, type TestFunctions } from './conformance-kit.js';
import type { Engine, Publication } from './engine.js';
import { nodeMessageSuite } from './conformance-nodes.js';
import { presenceSuite } from './conformance-presence.js';
import { patternSuite } from './conformance-patterns.js';
import { recordSuite } from './conformance-records.js';
import { acknowledgementSuite } from './conformance-acks.js';

/**
 * The guarantees every engine gives (engine.ts), as one test suite to run against any engine, the
 * built-in ones and an app's own. It takes the test runner's functions instead of importing one, so
 * livehub depends on no test framework and any runner with `describe`, `it` and `afterEach` (vitest,
 * jest, mocha, node:test) runs it; assertions are node:assert's, and waits poll.
 *
 * ```ts
 * import { describe, it, afterEach } from 'vitest';
 * import { engineConformance } from 'livehub/engine';
 * engineConformance('MyEngine', { describe, it, afterEach }, { make: () => ({ engine: new MyEngine() }) });
 * ```
 */

export type { TestFunctions };

/** One engine (one node) for the suite, and what to release after its test. */
export interface EngineUnderTest {
  engine: Engine;
  /** Releases what the engine left behind (Redis keys); the suite closes the engine itself. */
  cleanup?: () => unknown;
}

export interface ConformanceTarget {
  /**
   * A new engine, not started. Engines made with the same `store` (a fresh name for each test)
   * share their store, as the nodes of one cluster do (the same Redis and prefix).
   */
  make(store: string): EngineUnderTest | Promise<EngineUnderTest>;
  /**
   * Whether engines made with the same store reach each other (Redis: yes; an in-memory engine: no,
   * one process is one node). With true, the suite also checks publications and node messages
   * between two nodes.
   */
  shared?: boolean;
  /**
   * Whether the engine keeps acknowledgements (`acknowledge` and `acknowledged`, see
   * acknowledgements.ts): with true the suite checks them; either way it checks that an engine has
   * both methods or neither, and that it has them exactly when this says so.
   */
  acknowledgements?: boolean;
}

/** Registers the conformance suite of an engine with the runner (see above). */
export function engineConformance(name: string, runner: TestFunctions, target: ConformanceTarget): void {
  if (runner === null || typeof runner !== 'object' || typeof runner.describe !== 'function' || typeof runner.it !== 'function' || typeof runner.afterEach !== 'function') {
    throw new TypeError('livehub: engineConformance needs the runner\'s { describe, it, afterEach }');
  }
  if (target === null || typeof target !== 'object' || typeof target.make !== 'function') {
    throw new TypeError('livehub: engineConformance needs { make(store) }, returning { engine, cleanup? }');
  }
  const { describe, afterEach } = runner;
  describe(`${name} (engine conformance)`, () => {
    const cleanups: Array<() => unknown> = [];
    let store = '';
    afterEach(async () => {
      store = '';
      for (const c of cleanups.splice(0).reverse()) await c();
    });
    const context: SuiteContext = {
      shared: target.shared === true,
      channel: () => `c${randomBytes(3).toString('hex')}`,
      async start() {
        store ||= `s${randomBytes(4).toString('hex')}`;
        const made = await target.make(store);
        const node = `n${randomBytes(4).toString('hex')}`;
        const started: StartedEngine = {
          e: made.engine, node, delivered: [], resets: [], messages: [],
          of: (channel) => started.delivered.filter((p) => p.channel === channel),
        };
        cleanups.push(() => made.engine.close());
        if (made.cleanup) cleanups.push(made.cleanup);
        await made.engine.start({
          node,
          deliver: (p) => started.delivered.push(p),
          reset: (channel) => started.resets.push(channel),
          message: (m) => started.messages.push(m),
        });
        return started;
      },
    };
    publicationSuite(runner, context);
    presenceSuite(runner, context);
    nodeMessageSuite(runner, context);
    patternSuite(runner, context);
    recordSuite(runner, context);
    acknowledgementSuite(runner, context, target.acknowledgements === true);
  });
}

/** Positions, history and the publications' fields. */
function publicationSuite({ it }: TestFunctions, { start, channel: fresh, shared }: SuiteContext): void {
  it('gives each channel offsets that increase by one, and delivers them in order with their fields', async () => {
    const { e, of } = await start();
    const channel = fresh();
    const other = `${channel}-other`;
    await e.subscribe(channel);
    await e.subscribe(other);
    assert.equal((await e.publish(channel, 't', '1', KEEP)).offset, 1);
    const second = await e.publish(channel, 'u', '{"n":2}', KEEP);
    assert.equal(second.offset, 2);
    assert.equal((await e.publish(other, 't', '"x"', KEEP)).offset, 1);
    await eventually(() => assert.equal(of(channel).length, 2));
    await eventually(() => assert.equal(of(other).length, 1));
    assert.deepEqual(of(channel).map((p) => p.offset), [1, 2]);
    assert.deepEqual(fieldsOf(of(channel)[1]!), { channel, offset: 2, epoch: second.epoch, type: 'u', data: '{"n":2}' });
    assert.deepEqual(fieldsOf(of(other)[0]!), { channel: other, offset: 1, epoch: of(other)[0]!.epoch, type: 't', data: '"x"' });
  });

  it('keeps the data text as it was given, whatever it holds, live and in history', async () => {
    const { e, of } = await start();
    const channel = fresh();
    await e.subscribe(channel);
    const texts = ['{"a": "x y", "b": [1, 2.50]}', '"  spaced  "', '"- - -"', '{"p":"{\\"channel\\":\\"x\\"}","offset":9}', '"é ✓ \\u2028"', 'null'];
    for (const data of texts) await e.publish(channel, 'text', data, { size: 10, ttl: 60_000 });
    await eventually(() => assert.deepEqual(of(channel).map((p) => p.data), texts));
    const { epoch } = (await e.history(channel, null)).position;
    assert.deepEqual((await e.history(channel, { offset: 0, epoch })).publications.map((p) => p.data), texts);
  });

  it('returns the tags, the publisher and the trace stamp a publication was given, live and in history', async () => {
    const { e, of } = await start();
    const channel = fresh();
    await e.subscribe(channel);
    await e.publish(channel, 't', '1', KEEP, { from: { user: 'ann "a" b', client: 'c1' }, tags: { region: 'eu west', desk: 'fx' } });
    await e.publish(channel, 't', '2', KEEP, { from: { client: 'c2', echo: false }, trace: { ts: 1700000000000, tp: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
    await e.publish(channel, 't', '3', KEEP, { trace: { ts: 1700000000001 } });
    const expected = [
      { from: { user: 'ann "a" b', client: 'c1' }, tags: { region: 'eu west', desk: 'fx' } },
      { from: { client: 'c2', echo: false }, trace: { ts: 1700000000000, tp: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } },
      { trace: { ts: 1700000000001 } },
    ];
    const extras = (p: Publication) => {
      const { from, tags, trace } = fieldsOf(p);
      return { ...(from ? { from } : {}), ...(tags ? { tags } : {}), ...(trace ? { trace } : {}) };
    };
    await eventually(() => assert.equal(of(channel).length, 3));
    assert.deepEqual(of(channel).map(extras), expected);
    const { epoch } = (await e.history(channel, null)).position;
    const stored = (await e.history(channel, { offset: 0, epoch })).publications;
    assert.deepEqual(stored.map(extras), expected);
    assert.deepEqual(stored.map((p) => [p.channel, p.offset, p.epoch, p.type]), [[channel, 1, epoch, 't'], [channel, 2, epoch, 't'], [channel, 3, epoch, 't']]);
  });

  it('keeps one epoch for a channel across publishes and reads, starting at offset 0', async () => {
    const { e } = await start();
    const channel = fresh();
    const before = await e.history(channel, null);
    assert.deepEqual([before.position.offset, before.publications, before.recovered], [0, [], false]);
    assert.equal(typeof before.position.epoch, 'string');
    const first = await e.publish(channel, 't', '1', KEEP);
    const second = await e.publish(channel, 't', '2', KEEP);
    assert.equal(first.epoch, before.position.epoch);
    assert.equal(second.epoch, before.position.epoch);
    assert.deepEqual((await e.history(channel, null)).position, { offset: 2, epoch: before.position.epoch });
  });

  it('replays exactly the publications after a position in the window, oldest first', async () => {
    const { e } = await start();
    const channel = fresh();
    for (let i = 1; i <= 4; i++) await e.publish(channel, 't', String(i), KEEP);
    const { epoch } = (await e.history(channel, null)).position;
    const result = await e.history(channel, { offset: 1, epoch });
    assert.equal(result.recovered, true);
    assert.deepEqual(result.publications.map((p) => [p.offset, p.data]), [[2, '2'], [3, '3'], [4, '4']]);
    assert.deepEqual(result.position, { offset: 4, epoch });
    const top = await e.history(channel, { offset: 4, epoch });
    assert.deepEqual([top.recovered, top.publications], [true, []]);
  });

  it('never replays a partial range: a position older than the window is not recovered', async () => {
    const { e } = await start();
    const channel = fresh();
    for (let i = 1; i <= 9; i++) await e.publish(channel, 't', String(i), KEEP); // keeps 5..9
    const { epoch } = (await e.history(channel, null)).position;
    assert.deepEqual((await e.history(channel, { offset: 4, epoch })).publications.map((p) => p.offset), [5, 6, 7, 8, 9]);
    const old = await e.history(channel, { offset: 3, epoch });
    assert.deepEqual([old.recovered, old.publications], [false, []]);
  });

  it('does not recover a position from another epoch, or from the future', async () => {
    const { e } = await start();
    const channel = fresh();
    await e.publish(channel, 't', '1', KEEP);
    const { epoch } = (await e.history(channel, null)).position;
    const other = await e.history(channel, { offset: 0, epoch: 'other' });
    assert.deepEqual([other.recovered, other.publications, other.position], [false, [], { offset: 1, epoch }]);
    const future = await e.history(channel, { offset: 9, epoch });
    assert.deepEqual([future.recovered, future.publications], [false, []]);
  });

  it('keeps positions but no history with size 0', async () => {
    const { e } = await start();
    const channel = fresh();
    await e.publish(channel, 't', '1', { size: 0, ttl: 1000 });
    await e.publish(channel, 't', '2', { size: 0, ttl: 1000 });
    const { position } = await e.history(channel, null);
    assert.equal(position.offset, 2);
    assert.equal((await e.history(channel, { offset: 1, epoch: position.epoch })).recovered, false);
    assert.equal((await e.history(channel, { offset: 2, epoch: position.epoch })).recovered, true);
  });

  it('drops publications older than the history ttl, and then does not recover across them', async () => {
    const { e } = await start();
    const channel = fresh();
    await e.publish(channel, 't', '1', { size: 10, ttl: 200 });
    const { epoch } = (await e.history(channel, null)).position;
    await eventually(async () => assert.equal((await e.history(channel, { offset: 0, epoch })).recovered, false));
    await e.publish(channel, 't', '2', { size: 10, ttl: 200 });
    const expired = await e.history(channel, { offset: 0, epoch });
    assert.deepEqual([expired.recovered, expired.publications], [false, []]);
    assert.deepEqual((await e.history(channel, { offset: 1, epoch })).publications.map((p) => p.offset), [2]);
  });

  it('publishes once per idempotency key: a repeat publishes nothing and answers the first position', async () => {
    const { e, of } = await start();
    const channel = fresh();
    await e.subscribe(channel);
    const once = { idempotencyKey: `k-${channel}`, idempotencyTtl: 60_000 };
    const first = await e.publish(channel, 't', '1', KEEP, once);
    assert.equal(first.offset, 1);
    assert.ok(!first.duplicate);
    await e.publish(channel, 't', '2', KEEP);
    assert.deepEqual(await e.publish(channel, 't', '1', KEEP, once), { offset: 1, epoch: first.epoch, duplicate: true });
    assert.equal((await e.publish(channel, 't', '3', KEEP, { idempotencyKey: `k2-${channel}`, idempotencyTtl: 60_000 })).offset, 3);
    await e.publish(channel, 't', '4', KEEP);
    // Delivered in order: once 4 is in, a duplicate of 1 would have been too.
    await eventually(() => assert.equal(of(channel).at(-1)?.data, '4'));
    assert.deepEqual(of(channel).map((p) => p.data), ['1', '2', '3', '4']);
    assert.deepEqual((await e.history(channel, { offset: 0, epoch: first.epoch })).publications.map((p) => p.offset), [1, 2, 3, 4]);
  });

  it('forgets an idempotency key after its ttl: the same key then publishes again', async () => {
    const { e } = await start();
    const channel = fresh();
    const once = { idempotencyKey: `k-${channel}`, idempotencyTtl: 150 };
    assert.equal((await e.publish(channel, 't', '1', KEEP, once)).offset, 1);
    assert.deepEqual(await e.publish(channel, 't', '1', KEEP, once), { offset: 1, epoch: (await e.history(channel, null)).position.epoch, duplicate: true });
    await eventually(async () => assert.ok(!(await e.publish(channel, 't', '1', KEEP, once)).duplicate));
    assert.equal((await e.history(channel, null)).position.offset, 2);
  });

  it('refuses an idempotency key without a ttl with a TypeError, publishing nothing', async () => {
    const { e } = await start();
    const channel = fresh();
    await assert.rejects(async () => e.publish(channel, 't', '1', KEEP, { idempotencyKey: 'k' }), TypeError);
    assert.equal((await e.history(channel, null)).position.offset, 0);
  });

  if (shared) {
    it('delivers a publication of one node to another node subscribed to its channel, with its fields', async () => {
      const a = await start();
      const b = await start();
      const channel = fresh();
      await b.e.subscribe(channel);
      const position = await a.e.publish(channel, 'hello', '{"to": "b"}', KEEP, { tags: { k: 'v' }, from: { client: 'x', echo: false } });
      await eventually(() => assert.equal(b.of(channel).length, 1));
      assert.deepEqual(fieldsOf(b.of(channel)[0]!), { channel, offset: 1, epoch: position.epoch, type: 'hello', data: '{"to": "b"}', tags: { k: 'v' }, from: { client: 'x', echo: false } });
    });
  }
}
