import { describe, expect, it } from 'vitest';
import { coreOf } from '../../pkg/hub.js';
import { Peer, perTest, recordingLogger } from '../helpers.js';

const { start, cleanup } = perTest();

describe('messages between nodes', () => {
  it('logs a node message it cannot read, drops it, and acts on the next one', async () => {
    const { logger, lines } = recordingLogger();
    const { hub, url } = await start({ logger, authenticate: (req) => ({ userId: String(req.headers['x-user']) }) });
    const ann = await Peer.open(url, { headers: { 'x-user': 'ann' } });
    cleanup(() => ann.close());
    const { engine } = coreOf(hub);
    await engine.send(null, 'not json');
    await engine.send(null, '{"kind":"launch-missiles"}');
    // Logged once: the hub's logger rate-limits each cause.
    await expect.poll(() => lines.filter((l) => l.code === 'bad_node_message').map((l) => l.level)).toEqual(['warn']);
    expect(lines.find((l) => l.code === 'bad_node_message')!.message).toContain('is not JSON');
    await hub.disconnectUser('ann', 'bye');
    expect(await ann.whenClosed()).toEqual({ code: 4503, reason: 'bye' });
  });

  it('hands a node message of a topic to the handler registered for it, and logs one without a handler', async () => {
    const { logger, lines } = recordingLogger();
    const { hub } = await start({ logger });
    const core = coreOf(hub);
    const got: string[] = [];
    core.onNodeMessage('echo', (data) => got.push(data));
    expect(() => core.onNodeMessage('echo', () => {})).toThrow(TypeError);
    await core.sendToNode(hub.node, 'echo', 'one two');
    await core.sendToNode(hub.node, 'nobody', 'lost');
    await expect.poll(() => got).toEqual(['one two']);
    await expect.poll(() => lines.some((l) => l.code === 'bad_node_message' && l.message.includes('"nobody"'))).toBe(true);
  });

  it('logs a topic handler that throws instead of letting it reach the engine', async () => {
    const { logger, lines } = recordingLogger();
    const { hub } = await start({ logger });
    const core = coreOf(hub);
    core.onNodeMessage('boom', () => { throw new Error('handler broke'); });
    await core.sendToNode(hub.node, 'boom', 'x');
    await expect.poll(() => lines.some((l) => l.code === 'node_message_failed' && l.message.includes('handler broke'))).toBe(true);
  });
});
