import { describe, expect, it } from 'vitest';
import { BROADCAST_CHANNEL, EVERYONE_CHANNEL } from '../../pkg/index.js';
import { resetDeprecationWarnings } from '../../pkg/core/deprecated.js';
import { Peer, perTest, recordingLogger } from '../helpers.js';

const { cleanup, start, hub: newHub } = perTest();

describe('the hub\'s deprecated names', () => {
  it('still answer stats(), metrics() and broadcast(message), each warning once with the name to use', async () => {
    resetDeprecationWarnings();
    const { logger, lines } = recordingLogger();
    const hub = newHub({ logger });
    expect(hub.stats()).toEqual({ clients: 0, channels: 0 });
    expect(hub.stats()).toEqual({ clients: 0, channels: 0 });
    expect(hub.metrics()).toEqual({ writes: 0, frames: 0, bytes: 0, evictions: 0, clients: 0, channels: 0 });
    const position = await hub.broadcast({ channel: 'news', type: 'headline', data: 1 });
    await hub.broadcast({ channel: 'news', type: 'headline', data: 2 });
    expect(position.offset).toBe(1);
    expect((await hub.history('news')).messages.map((m) => m.data)).toEqual([1, 2]);
    const warnings = lines.filter((line) => line.code === 'deprecated').map((line) => line.message);
    expect(warnings).toEqual([
      'livehub: hub.stats() is deprecated; use hub.info()',
      'livehub: hub.metrics() is deprecated; use hub.info()',
      'livehub: hub.broadcast(message) is deprecated; use hub.publish(channel, type, data)',
    ]);
  });

  it('give info() every figure stats() and metrics() gave', () => {
    const hub = newHub({ logger: false });
    expect(Object.keys(hub.info()).sort()).toEqual(
      ['bytes', 'channels', 'clients', 'connections', 'evictions', 'frames', 'node', 'subscriptions', 'uptime', 'users', 'writes']);
  });

  it('still run kit.broadcast(type, data) as a publish to every connection, warning once with the name to use', async () => {
    resetDeprecationWarnings();
    const { logger, lines } = recordingLogger();
    const s = await start({ logger });
    s.hub.handle('announce', (message, _context, kit) => kit.broadcast('announced', message.data));
    const listener = await Peer.open(s.url);
    const speaker = await Peer.open(s.url);
    cleanup(() => listener.ws.close(), () => speaker.ws.close());
    speaker.send({ type: 'announce', data: 'hello', id: 1 });
    speaker.send({ type: 'announce', data: 'again', id: 2 });
    expect(await listener.next((m) => m.type === 'announced' && m.data === 'again')).toMatchObject({ channel: EVERYONE_CHANNEL });
    expect(lines.filter((line) => line.code === 'deprecated').map((line) => line.message))
      .toEqual(["livehub: kit.broadcast(type, data) is deprecated; use kit.publish('*', type, data)"]);
    expect(BROADCAST_CHANNEL).toBe(EVERYONE_CHANNEL);
  });
});
