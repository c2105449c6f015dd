import assert from 'node:assert/strict';
import { eventually, KEEP, type SuiteContext, type TestFunctions } from './conformance-kit.js';

/** Node messages (`Engine.send`): to one node or to every node, never stored, never a publication. */
export function nodeMessageSuite({ it }: TestFunctions, { start, channel: fresh, shared }: SuiteContext): void {
  const texts = ['{"kind":"topic","data":"a b"}', '  spaced\nlines\n', 'é ✓', '-'];

  it('hands a message sent to this node, or to every node, to its message handler with the text unchanged', async () => {
    const { e, node, messages } = await start();
    for (const text of texts) await e.send(node, text);
    await e.send(null, 'to everyone');
    await eventually(() => assert.deepEqual(messages, [...texts, 'to everyone']));
  });

  it('hands this node no message addressed to another node, and says that no such node got it', async () => {
    const { e, node, messages } = await start();
    assert.equal(await e.send(`${node}-other`, 'not for me'), false);
    assert.equal(await e.send(node, 'for me'), true);
    assert.equal(await e.send(null, 'for all'), true);
    // A node's messages arrive in the order it sent them: once the later ones are in, the first would be.
    await eventually(() => assert.deepEqual(messages, ['for me', 'for all']));
  });

  it('neither stores nor delivers node messages as publications', async () => {
    const { e, node, messages, delivered } = await start();
    const channel = fresh();
    await e.subscribe(channel);
    await e.send(node, channel);
    await e.send(null, channel);
    await e.publish(channel, 't', '"after"', KEEP);
    await eventually(() => assert.equal(delivered.length, 1));
    await eventually(() => assert.equal(messages.length, 2));
    assert.deepEqual(delivered.map((p) => [p.channel, p.data]), [[channel, '"after"']]);
    const { position } = await e.history(channel, null);
    assert.deepEqual((await e.history(channel, { offset: 0, epoch: position.epoch })).publications.map((p) => p.data), ['"after"']);
  });

  if (shared) {
    it('sends a message to the one node it names, and one to every node, across nodes', async () => {
      const a = await start();
      const b = await start();
      const c = await start();
      assert.equal(await a.e.send(b.node, 'for b'), true);
      assert.equal(await a.e.send(null, 'for all'), true);
      await eventually(() => assert.deepEqual(b.messages, ['for b', 'for all']));
      await eventually(() => assert.deepEqual(c.messages, ['for all']));
      await eventually(() => assert.deepEqual(a.messages, ['for all']));
      assert.deepEqual([a, b, c].map((n) => n.delivered.length), [0, 0, 0]);
    });
  }
}
