import { describe, expect, it } from 'vitest';
import { BUILT_IN } from '../../pkg/core/commands.js';
import { BUILT_IN_COMMANDS } from '../../pkg/protocol/index.js';
import type { AuthorizeRequest } from '../../pkg/index.js';
import { perTest } from '../helpers.js';

const { start } = perTest();

describe('the built-in commands', () => {
  it('are dispatched from one table that has exactly the protocol\'s commands, with the channel policy on subscribe and publish', () => {
    expect(Object.keys(BUILT_IN).sort()).toEqual([...BUILT_IN_COMMANDS].sort());
    expect(Object.entries(BUILT_IN).filter(([, entry]) => entry.policy).map(([type]) => type).sort()).toEqual(['publish', 'subscribe']);
  });

  it('give authorize the published message\'s type as type (and under its deprecated name event)', async () => {
    const asked: AuthorizeRequest[] = [];
    const s = await start({ logger: false, authorize: (request) => { asked.push(request); return true; } });
    const { Peer } = await import('../helpers.js');
    const peer = await Peer.open(s.url);
    peer.send({ type: 'publish', channel: 'room', event: 'said', data: 1, id: 1 });
    await peer.next((m) => m.type === 'ack');
    peer.ws.close();
    expect(asked.find((r) => r.action === 'publish')).toMatchObject({ channel: 'room', type: 'said', event: 'said', data: 1 });
  });
});
