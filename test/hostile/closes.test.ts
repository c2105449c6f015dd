import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../pkg/index.js';
import { clampCloseReason } from '../../pkg/protocol/index.js';
import { Peer, perTest } from '../helpers.js';

const { start, cleanup } = perTest();

/** A hub whose connections are the user their `?user=` says. */
const asUser = { authenticate: (request: { url?: string }) => ({ userId: new URL(request.url ?? '/', 'http://x').searchParams.get('user') ?? 'nobody' }) };

describe('close reasons', () => {
  it.each([
    ['200 ASCII bytes', 'r'.repeat(200)],
    ['42 CJK characters (126 bytes)', '切'.repeat(42)],
    ['emoji that would be cut in half at byte 123', '😀'.repeat(40)],
  ])('with %s still close every socket of a user, each with a reason of at most 123 bytes', async (_name, reason) => {
    const { hub, url } = await start({ ...asUser, logger: false });
    const sockets = await Promise.all([1, 2, 3].map(() => Peer.open(`${url}?user=mallory`)));
    const bystander = await Peer.open(`${url}?user=alice`);
    cleanup(() => bystander.close(), ...sockets.map((s) => () => s.close()));
    await hub.disconnectUser('mallory', reason);
    const closes = await Promise.all(sockets.map((s) => s.whenClosed()));
    for (const close of closes) {
      expect(close.code).toBe(CloseCode.Disconnected);
      expect(Buffer.byteLength(close.reason)).toBeLessThanOrEqual(123);
      expect(reason.startsWith(close.reason)).toBe(true);
      expect(close.reason).not.toContain('\uFFFD');
    }
    await expect.poll(() => hub.info().clients).toBe(1);
    // No zombie: mallory's slots are free again and sendToUser reaches only new sockets.
    const back = await Peer.open(`${url}?user=mallory`);
    cleanup(() => back.close());
    await hub.sendToUser('mallory', 'note', 'hi');
    expect(await back.next((m) => m.type === 'note')).toMatchObject({ data: 'hi' });
    expect(bystander.closed).toBeNull();
  });

  it('are cut on a character boundary', () => {
    expect(clampCloseReason('short')).toBe('short');
    expect(Buffer.byteLength(clampCloseReason('é'.repeat(100)))).toBe(122);
    expect(clampCloseReason('a'.repeat(123))).toHaveLength(123);
    expect(clampCloseReason('a'.repeat(124))).toHaveLength(123);
  });
});
