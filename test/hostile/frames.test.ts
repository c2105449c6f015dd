import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../pkg/index.js';
import { hostileHub } from './fixture.js';
import { readByServer } from '../helpers.js';
import { RawPeer, until } from './raw.js';

const subscribe = JSON.stringify({ type: 'subscribe', channel: 'x' });

describe('hostile frames', () => {
  it.each([
    ['an unmasked client frame', [{ opcode: 1, payload: subscribe, mask: false }]],
    ['a frame with RSV1 set and no extension', [{ opcode: 1, payload: subscribe, rsv: 4 }]],
    ['a reserved opcode', [{ opcode: 3, payload: 'x' }]],
    ['a fragmented ping', [{ opcode: 9, payload: 'x', fin: false }]],
    ['a continuation with no message to continue', [{ opcode: 0, payload: 'x' }]],
    ['a new message inside a fragmented one', [{ opcode: 1, payload: '{"ty', fin: false }, { opcode: 1, payload: 'pe":"ping"}' }]],
  ])('closes on %s with 1002', async (_name, frames) => {
    const h = await hostileHub();
    const peer = await RawPeer.open(h.port);
    for (const frame of frames) peer.send(frame);
    expect(await peer.closeCode()).toBe(CloseCode.ProtocolError);
    await h.finish();
  });

  it('closes on invalid UTF-8 with 1007', async () => {
    const h = await hostileHub();
    const peer = await RawPeer.open(h.port);
    peer.send({ opcode: 1, payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) });
    expect(await peer.closeCode()).toBe(CloseCode.InvalidPayload);
    await h.finish();
  });

  it('closes on invalid UTF-8 split across fragments with 1007', async () => {
    const h = await hostileHub();
    const peer = await RawPeer.open(h.port);
    // "é" is C3 A9: the first fragment ends on C3, the second starts with an invalid continuation.
    peer.send({ opcode: 1, payload: Buffer.from([0x22, 0xc3]), fin: false });
    peer.send({ opcode: 0, payload: Buffer.from([0x28, 0x22]) });
    expect(await peer.closeCode()).toBe(CloseCode.InvalidPayload);
    await h.finish();
  });

  it('accepts a valid character split across fragments', async () => {
    const h = await hostileHub();
    const peer = await RawPeer.open(h.port);
    const text = Buffer.from(JSON.stringify({ type: 'ping', id: 'é€' }));
    peer.send({ opcode: 1, payload: text.subarray(0, 20), fin: false });
    peer.send({ opcode: 0, payload: text.subarray(20) });
    expect(await peer.next((m) => m.type === 'pong')).toEqual({ type: 'pong', id: 'é€' });
    peer.destroy();
    await h.finish();
  });

  it('closes on a single message over maxMessageSize with 1009', async () => {
    const h = await hostileHub({ maxMessageSize: 4096 });
    const peer = await RawPeer.open(h.port);
    peer.text({ type: 'ping', pad: 'x'.repeat(5000) });
    expect(await peer.closeCode()).toBe(CloseCode.MessageTooBig);
    await h.finish();
  });

  it('closes on a fragmented message whose fragments add up past maxMessageSize with 1009', async () => {
    const h = await hostileHub({ maxMessageSize: 4096 });
    const peer = await RawPeer.open(h.port);
    peer.send({ opcode: 1, payload: 'x'.repeat(3000), fin: false });
    peer.send({ opcode: 0, payload: 'x'.repeat(3000), fin: false });
    expect(await peer.closeCode()).toBe(CloseCode.MessageTooBig);
    await h.finish();
  });

  it('closes a flood of tiny fragments at maxFragments with 1008', async () => {
    const h = await hostileHub({ maxMessageSize: 4096 });
    const peer = await RawPeer.open(h.port);
    peer.send({ opcode: 1, payload: 'x', fin: false });
    const frames: Buffer[] = [];
    for (let i = 0; i < 5000; i++) frames.push(Buffer.from([0x00, 0x81, 0, 0, 0, 0, 0x78])); // masked 1-byte continuations
    peer.socket.write(Buffer.concat(frames));
    expect(await peer.closeCode()).toBe(CloseCode.PolicyViolation);
    await h.finish();
  });

  it('terminates a burst ping flood after 60 unanswered pongs (ws maxPendingAutoPongs)', async () => {
    const h = await hostileHub();
    const peer = await RawPeer.open(h.port);
    const pings: Buffer[] = [];
    for (let i = 0; i < 2000; i++) pings.push(Buffer.from([0x89, 0x80, 0, 0, 0, 0]));
    peer.socket.write(Buffer.concat(pings));
    await until(() => peer.ended);
    expect(peer.ended).toBe(true);
    expect(peer.frames.filter((f) => f.opcode === 0xa).length).toBeLessThanOrEqual(60);
    await h.finish();
  });

  it('closes a sustained ping flood with 4003 once it exhausts the rate limit', async () => {
    const h = await hostileHub({ rateLimit: 50, rateLimitBurst: 100 });
    const peer = await RawPeer.open(h.port);
    for (let i = 0; i < 400 && !peer.ended; i++) {
      peer.socket.write(Buffer.concat(Array.from({ length: 10 }, () => Buffer.from([0x89, 0x80, 0, 0, 0, 0]))));
      await readByServer(h.hub, peer.socket); // sustained: each ten pings a read of its own
    }
    expect(await peer.closeCode()).toBe(CloseCode.RateLimited);
    await h.finish();
  });

  it('closes on a binary message with 1003', async () => {
    const h = await hostileHub();
    const peer = await RawPeer.open(h.port);
    peer.send({ opcode: 2, payload: Buffer.from([1, 2, 3]) });
    expect(await peer.closeCode()).toBe(CloseCode.UnsupportedData);
    await h.finish();
  });

  it('limits the inflated size of compressed messages when compression is on (1009)', async () => {
    const { WebSocket } = await import('ws');
    const h = await hostileHub({ perMessageDeflate: true, maxMessageSize: 4096 });
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws`, { perMessageDeflate: true });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    expect(ws.extensions).toContain('permessage-deflate');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(JSON.stringify({ type: 'ping', pad: 'a'.repeat(200_000) })); // about 200 bytes compressed
    expect(await closed).toBe(CloseCode.MessageTooBig);
    await h.finish();
  });
});

