import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { eventually, type SuiteContext, type TestFunctions } from './conformance-kit.js';

/** Records (`Engine.records`), for engines that keep them: put, one take, expiry, across nodes. */
export function recordSuite({ it }: TestFunctions, { start, shared }: SuiteContext): void {
  const key = () => `k${randomBytes(4).toString('hex')}`;

  it('hands a record to one take, with its text unchanged, and none after it', async () => {
    const { e } = await start();
    if (!e.records) return;
    const name = key();
    const text = '{"subscriptions":[["a b",{"qos":1}]],"é":"✓"}';
    await e.records.put(name, text, 60_000);
    assert.equal(await e.records.take(name), text);
    assert.equal(await e.records.take(name), null);
    assert.equal(await e.records.take(key()), null);
  });

  it('replaces a record put again, and forgets a deleted one', async () => {
    const { e } = await start();
    if (!e.records) return;
    const name = key();
    await e.records.put(name, 'first', 60_000);
    await e.records.put(name, 'second', 60_000);
    assert.equal(await e.records.take(name), 'second');
    await e.records.put(name, 'third', 60_000);
    await e.records.delete(name);
    assert.equal(await e.records.take(name), null);
  });

  it('gives no record past its expiry', async () => {
    const { e } = await start();
    if (!e.records) return;
    const gone = key();
    const kept = key();
    await e.records.put(gone, 'short', 50);
    await e.records.put(kept, 'long', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal(await e.records.take(gone), null);
    assert.equal(await e.records.take(kept), 'long');
  });

  if (shared) {
    it('shares records between nodes: put on one, taken on another, and of two nodes taking at once one gets it', async () => {
      const a = await start();
      const b = await start();
      if (!a.e.records || !b.e.records) return;
      const name = key();
      await a.e.records.put(name, 'from a', 60_000);
      await eventually(async () => assert.equal(await b.e.records!.take(name), 'from a'));
      await b.e.records.put(name, 'again', 60_000);
      const taken = await Promise.all([a.e.records.take(name), b.e.records.take(name)]);
      assert.deepEqual(taken.filter((t) => t !== null), ['again']);
    });
  }
}
