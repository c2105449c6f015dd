import assert from 'node:assert/strict';
import { matchesPattern } from '../protocol/index.js';
import { eventually, KEEP, type StartedEngine, type SuiteContext, type TestFunctions } from './conformance-kit.js';

/**
 * Pattern delivery (`Engine.subscribePattern`), for engines that have it: every publication of a
 * channel a pattern matches reaches the node, once, in offset order per channel, from any node.
 * An engine may deliver more channels (the hub matches exactly), so only what matches is compared.
 */
export function patternSuite({ it }: TestFunctions, { start, channel: fresh, shared }: SuiteContext): void {
  const matching = (node: StartedEngine, pattern: string) => node.delivered.filter((p) => matchesPattern(pattern, p.channel));
  /** Whether the engine delivers by pattern: both methods, or neither (then these tests have nothing to check). */
  const delivers = (node: StartedEngine) => {
    assert.equal(typeof node.e.subscribePattern, typeof node.e.unsubscribePattern, 'subscribePattern and unsubscribePattern come together');
    return typeof node.e.subscribePattern === 'function';
  };

  it('delivers the publications of every channel a pattern matches, in offset order, and none that it does not match', async () => {
    const a = await start();
    const b = shared ? await start() : a;
    if (!delivers(a)) return;
    const root = fresh();
    const pattern = `${root}/+/temp`;
    await a.e.subscribePattern!(pattern);
    for (const [channel, data] of [[`${root}/kitchen/temp`, '1'], [`${root}/hall/temp`, '2'], [`${root}/kitchen/temp`, '3'], [`${root}/kitchen/light`, '4'], [`${root}/a/b/temp`, '5']] as const) {
      await b.e.publish(channel, 't', data, KEEP);
    }
    await eventually(() => assert.equal(matching(a, pattern).length, 3));
    const got = matching(a, pattern).map((p) => [p.channel, p.offset, p.data]);
    assert.deepEqual(got.filter(([c]) => c === `${root}/kitchen/temp`), [[`${root}/kitchen/temp`, 1, '1'], [`${root}/kitchen/temp`, 2, '3']]);
    assert.deepEqual(got.filter(([c]) => c === `${root}/hall/temp`), [[`${root}/hall/temp`, 1, '2']]);
  });

  it('delivers each publication once, however many patterns and channel subscriptions of the node cover it', async () => {
    const a = await start();
    const b = shared ? await start() : a;
    if (!delivers(a)) return;
    const root = fresh();
    await a.e.subscribe(`${root}/x`);
    await a.e.subscribePattern!(`${root}/+`);
    await a.e.subscribePattern!(`${root}/#`);
    for (const data of ['1', '2', '3']) await b.e.publish(`${root}/x`, 't', data, KEEP);
    await b.e.publish(`${root}/y/end`, 't', '"end"', KEEP);
    await eventually(() => assert.equal(a.of(`${root}/y/end`).length, 1));
    // The end came after the others on another channel: give the node a moment to deliver a late duplicate.
    await b.e.publish(`${root}/y/end`, 't', '"end2"', KEEP);
    await eventually(() => assert.equal(a.of(`${root}/y/end`).length, 2));
    assert.deepEqual(a.of(`${root}/x`).map((p) => p.data), ['1', '2', '3']);
  });

  it('keeps delivering a pattern after another pattern of the node is dropped', async () => {
    const a = await start();
    const b = shared ? await start() : a;
    if (!delivers(a)) return;
    const root = fresh();
    await a.e.subscribePattern!(`${root}/+/t`);
    await a.e.subscribePattern!(`${root}/#`);
    await a.e.unsubscribePattern!(`${root}/#`);
    await b.e.publish(`${root}/a/t`, 't', '"kept"', KEEP);
    await eventually(() => assert.deepEqual(a.of(`${root}/a/t`).map((p) => p.data), ['"kept"']));
  });
}
