import assert from 'node:assert/strict';
import type { SuiteContext, TestFunctions } from './conformance-kit.js';
import type { Engine } from './engine.js';

/** The acknowledgement methods of an engine that has them (the suite checks that it has both). */
function acks(e: Engine): Required<Pick<Engine, 'acknowledge' | 'acknowledged'>> {
  assert.equal(typeof e.acknowledge, 'function', 'the engine has no acknowledge()');
  assert.equal(typeof e.acknowledged, 'function', 'the engine has no acknowledged()');
  return { acknowledge: e.acknowledge!.bind(e), acknowledged: e.acknowledged!.bind(e) };
}

const KEEP = { size: 10, ttl: 60_000 };

/**
 * Acknowledgements (acknowledgements.ts): one position per user and channel, which never moves back
 * and never passes the head. Registered when the target says its engine keeps them; the check that
 * an engine has both methods or neither runs for every engine.
 */
export function acknowledgementSuite({ it }: TestFunctions, { start, channel: fresh, shared }: SuiteContext, keeps: boolean): void {
  it('has both acknowledge() and acknowledged(), or neither', async () => {
    const { e } = await start();
    assert.equal(typeof e.acknowledge, typeof e.acknowledged);
    assert.equal(typeof e.acknowledge === 'function', keeps, keeps ? 'the target says the engine keeps acknowledgements' : 'the engine keeps acknowledgements: pass { acknowledgements: true } to check them');
  });
  if (!keeps) return;

  it('starts a user at acknowledgement 0, and moves it forward to the position given, per user', async () => {
    const { e } = await start();
    const { acknowledge, acknowledged } = acks(e);
    const channel = fresh();
    const before = await acknowledged('ann', channel);
    assert.deepEqual(before, { head: { offset: 0, epoch: before.head.epoch }, acknowledged: 0 });
    for (let i = 1; i <= 5; i++) await e.publish(channel, 't', String(i), KEEP);
    const { epoch } = (await e.history(channel, null)).position;
    assert.deepEqual(await acknowledge('ann', channel, { offset: 3, epoch }), { head: { offset: 5, epoch }, acknowledged: 3, moved: true });
    assert.deepEqual(await acknowledged('ann', channel), { head: { offset: 5, epoch }, acknowledged: 3 });
    assert.deepEqual(await acknowledged('bob', channel), { head: { offset: 5, epoch }, acknowledged: 0 });
    assert.equal((await acknowledged('ann', `${channel}-other`)).acknowledged, 0);
    await e.publish(channel, 't', '6', KEEP);
    assert.deepEqual(await acknowledged('ann', channel), { head: { offset: 6, epoch }, acknowledged: 3 });
  });

  it('never moves an acknowledgement back: an older position changes nothing', async () => {
    const { e } = await start();
    const { acknowledge, acknowledged } = acks(e);
    const channel = fresh();
    for (let i = 1; i <= 4; i++) await e.publish(channel, 't', String(i), KEEP);
    const { epoch } = (await e.history(channel, null)).position;
    await acknowledge('ann', channel, { offset: 4, epoch });
    assert.deepEqual(await acknowledge('ann', channel, { offset: 2, epoch }), { head: { offset: 4, epoch }, acknowledged: 4, moved: false });
    assert.deepEqual(await acknowledge('ann', channel, { offset: 4, epoch }), { head: { offset: 4, epoch }, acknowledged: 4, moved: false });
    assert.equal((await acknowledged('ann', channel)).acknowledged, 4);
  });

  it('refuses a position past the head or of another epoch, storing nothing', async () => {
    const { e } = await start();
    const { acknowledge, acknowledged } = acks(e);
    const channel = fresh();
    for (let i = 1; i <= 2; i++) await e.publish(channel, 't', String(i), KEEP);
    const { epoch } = (await e.history(channel, null)).position;
    await acknowledge('ann', channel, { offset: 1, epoch });
    assert.deepEqual(await acknowledge('ann', channel, { offset: 3, epoch }), { head: { offset: 2, epoch }, acknowledged: 1, moved: false, refused: 'ahead' });
    assert.deepEqual(await acknowledge('ann', channel, { offset: 2, epoch: `${epoch}x` }), { head: { offset: 2, epoch }, acknowledged: 1, moved: false, refused: 'epoch' });
    assert.equal((await acknowledged('ann', channel)).acknowledged, 1);
    const empty = (await e.history(`${channel}-empty`, null)).position;
    assert.equal((await acknowledge('bob', `${channel}-empty`, { offset: 1, epoch: empty.epoch })).refused, 'ahead');
  });

  if (shared) {
    it('shares a user\'s acknowledgement between nodes: the furthest of concurrent ones stands', async () => {
      const a = await start();
      const b = await start();
      const channel = fresh();
      for (let i = 1; i <= 20; i++) await a.e.publish(channel, 't', String(i), { size: 20, ttl: 60_000 });
      const { epoch } = (await a.e.history(channel, null)).position;
      const ackA = acks(a.e);
      const ackB = acks(b.e);
      // Interleaved from both nodes, out of order: only forward moves are kept.
      await Promise.all([
        ...[3, 17, 5, 9].map((offset) => ackA.acknowledge('ann', channel, { offset, epoch })),
        ...[12, 1, 20, 8].map((offset) => ackB.acknowledge('ann', channel, { offset, epoch })),
      ]);
      assert.deepEqual(await ackA.acknowledged('ann', channel), { head: { offset: 20, epoch }, acknowledged: 20 });
      assert.deepEqual(await ackB.acknowledged('ann', channel), { head: { offset: 20, epoch }, acknowledged: 20 });
    });
  }
}
