import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../pkg/index.js';
import { Peer, turn } from '../helpers.js';
import { gc, hostileHub } from './fixture.js';
import { RawPeer } from './raw.js';

describe('hostile resource use', () => {
  it('evicts a client that stops reading and keeps heap use near the baseline', async () => {
    const h = await hostileHub({ maxBufferedBytes: 1024 * 1024, writeWait: 3000 });
    const slow = await Peer.open(h.url);
    await slow.subscribe('firehose');
    gc();
    const baseline = process.memoryUsage().heapUsed;
    (slow.ws as unknown as { _socket: Socket })._socket.pause();
    const payload = 'x'.repeat(8 * 1024);
    for (let i = 0; i < 2000; i++) {
      h.hub.publish('firehose', 'blob', { i, payload });
      if (i % 50 === 0) await turn();
    }
    await expect.poll(() => h.hub.info().evictions, { timeout: 10_000 }).toBe(1);
    (slow.ws as unknown as { _socket: Socket })._socket.resume();
    expect((await slow.whenClosed(10_000)).code).toBe(CloseCode.SlowConsumer);
    await expect.poll(() => h.hub.info().clients).toBe(1); // the canary's alone: the evicted one is let go
    gc();
    const growth = process.memoryUsage().heapUsed - baseline;
    expect(growth).toBeLessThan(8 * 1024 * 1024); // 16 MB was published at it
    await h.finish();
  });

  it('closes 200 connections that each start a message of tiny fragments, with 1008, and keeps the heap small', async () => {
    const h = await hostileHub({ maxConnectionsPerIp: 1000 });
    gc();
    const baseline = process.memoryUsage().heapUsed;
    const attackers = await Promise.all([...Array(200)].map(() => RawPeer.open(h.port)));
    // One unfinished message each: a first fragment, then 16,000 one-byte continuations.
    const flood = Buffer.concat([...Array(16_000)].map(() => Buffer.from([0x00, 0x81, 0, 0, 0, 0, 0x78])));
    const first = Buffer.from([0x01, 0x81, 0, 0, 0, 0, 0x78]);
    for (const peer of attackers) peer.socket.write(Buffer.concat([first, flood]));
    const codes = await Promise.all(attackers.map((peer) => peer.closeCode(15_000)));
    expect(codes.every((code) => code === CloseCode.PolicyViolation)).toBe(true);
    gc();
    // 21 MiB was sent at it; before the fragment limit this pinned about 330 MiB.
    expect(process.memoryUsage().heapUsed - baseline).toBeLessThan(16 * 1024 * 1024);
    for (const peer of attackers) peer.destroy();
    await h.finish();
  });

  it('terminates a dead peer (no pongs) at the pong timeout', async () => {
    const h = await hostileHub({ pongWait: 400, pingPeriod: 150 });
    const dead = await Peer.open(h.url, { autoPong: false });
    await dead.subscribe('busy');
    const started = Date.now();
    await expect.poll(() => dead.closed?.code, { timeout: 3000 }).toBe(1006);
    expect(Date.now() - started).toBeLessThan(1500);
    await h.finish();
  });
});
