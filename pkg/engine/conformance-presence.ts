import assert from 'node:assert/strict';
import { eventually, type SuiteContext, type TestFunctions } from './conformance-kit.js';

/** Presence: joins and leaves per user, refreshes, and the sweep of expired connections. */
export function presenceSuite({ it }: TestFunctions, { start, channel: fresh }: SuiteContext): void {
  it('tracks presence: a user joins with their first connection and leaves with their last', async () => {
    const { e } = await start();
    const channel = fresh();
    const entry = (clientId: string, userId: string, status: 'online' | 'away' = 'online') => ({ clientId, userId, status, info: { name: userId } });
    assert.equal(await e.addPresence(channel, entry('c1', 'ann'), 10_000), true);
    assert.equal(await e.addPresence(channel, entry('c2', 'ann'), 10_000), false); // ann's second connection
    assert.equal(await e.addPresence(channel, entry('c1', 'ann', 'away'), 10_000), false); // a refresh
    assert.equal(await e.addPresence(channel, entry('c3', 'bob'), 10_000), true);
    const members = (await e.presence(channel)).sort((a, b) => a.clientId.localeCompare(b.clientId));
    assert.deepEqual(members, [entry('c1', 'ann', 'away'), entry('c2', 'ann'), entry('c3', 'bob')]);
    assert.equal(await e.removePresence(channel, 'c1', 'ann'), false);
    assert.equal(await e.removePresence(channel, 'c2', 'ann'), true);
    assert.equal(await e.removePresence(channel, 'c2', 'ann'), false); // already gone
    assert.deepEqual((await e.presence(channel)).map((m) => m.userId), ['bob']);
  });

  it('sweeps expired connections once, returning the users left with none', async () => {
    const { e } = await start();
    const channel = fresh();
    await e.addPresence(channel, { clientId: 'c1', userId: 'ann', status: 'online' }, 100);
    await e.addPresence(channel, { clientId: 'c2', userId: 'bob', status: 'online' }, 100);
    await e.addPresence(channel, { clientId: 'c3', userId: 'bob', status: 'online' }, 60_000);
    await eventually(async () => assert.deepEqual((await e.presence(channel)).map((m) => m.clientId), ['c3']));
    assert.deepEqual(await e.sweepPresence(channel), ['ann']);
    assert.deepEqual(await e.sweepPresence(channel), []);
    assert.equal(await e.addPresence(channel, { clientId: 'c4', userId: 'ann', status: 'online' }, 60_000), true);
  });
}
