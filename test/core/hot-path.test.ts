import { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Hub } from '../../pkg/index.js';
import { Peer, perTest, sentinel, turn, type StartedHub } from '../helpers.js';

afterEach(() => { vi.restoreAllMocks(); });
const { start, cleanup } = perTest();
async function peer(url: string) {
  const p = await Peer.open(url);
  cleanup(() => p.close());
  return p;
}

describe.each(['js', 'wasm'] as const)('fan-out hot path (codec %s)', (codec) => {
  it('gives a client on many channels each message exactly once, in order per channel', async () => {
    const { hub, url } = await start({ codec });
    expect(hub.codecName).toBe(codec);
    const p = await peer(url);
    for (const c of ['a', 'b', 'c']) await p.subscribe(c);
    for (let i = 0; i < 300; i++) hub.publish(['a', 'b', 'c'][i % 3]!, 'n', i);
    hub.publish('*', 'all', 'x');
    await expect.poll(() => p.messages.filter((m) => 'data' in m).length).toBe(301);
    for (const c of ['a', 'b', 'c', '*']) await sentinel(hub, c, [p]);
    const got = p.messages.filter((m) => 'data' in m);
    expect(got).toHaveLength(301);
    for (const c of ['a', 'b', 'c']) {
      const seq = got.filter((m) => m.channel === c).map((m) => m.data);
      expect(seq).toEqual([...Array(300).keys()].filter((i) => ['a', 'b', 'c'][i % 3] === c));
    }
  });

  it('makes one socket write per client per turn, however many channels and messages', async () => {
    const { hub, url } = await start({ codec });
    const clients = [await peer(url), await peer(url), await peer(url)];
    for (const p of clients) for (const c of ['x', 'y', 'z']) await p.subscribe(c);
    const writev = vi.spyOn(Socket.prototype as unknown as { _writev: () => void }, '_writev');
    const write = vi.spyOn(Socket.prototype as unknown as { _write: () => void }, '_write');
    for (let i = 0; i < 90; i++) hub.publish(['x', 'y', 'z'][i % 3]!, 'n', i);
    await expect.poll(() => clients.every((p) => p.messages.filter((m) => 'data' in m).length === 90)).toBe(true);
    expect(writev.mock.calls.length + write.mock.calls.length).toBe(clients.length);
  });

  it('delivers every byte intact while the codec\'s memory grows with writes in flight', async () => {
    const { hub, url } = await start({ codec, maxBufferedBytes: 256 * 1024 * 1024, sendBuffer: 100_000 });
    const p = await peer(url);
    await p.subscribe('big');
    const socket = (p.ws as unknown as { _socket: Socket })._socket;
    socket.pause(); // writes back up in the server's socket: in flight while memory grows
    const sizes = [10, 100_000, 20, 1_000_000, 30, 4_000_000, 40, 8_000_000, 50];
    const expected = sizes.map((n, i) => String.fromCharCode(97 + i).repeat(n));
    for (const text of expected) { hub.publish('big', 'blob', text); await turn(); } // each in a write of its own
    socket.resume();
    await expect.poll(() => p.messages.filter((m) => m.channel === 'big').length, { timeout: 15_000 }).toBe(sizes.length);
    const got = p.messages.filter((m) => m.channel === 'big').map((m) => m.data);
    got.forEach((text: string, i: number) => expect(text === expected[i]).toBe(true));
  });
});

describe('writes under load (maxWriteDelay)', () => {
  /** Makes the first socket write of the server's sockets take `ms` (a flush to many slow sockets). */
  function slowFirstWrite(ms: number) {
    const original = (Socket.prototype as unknown as { _write: (...args: unknown[]) => void })._write;
    let first = true;
    return vi.spyOn(Socket.prototype as unknown as { _write: (...args: unknown[]) => void }, '_write').mockImplementation(function (this: Socket, ...args: unknown[]) {
      if (first) {
        first = false;
        const until = Date.now() + ms;
        while (Date.now() < until) { /* a flush that takes ms */ }
      }
      return original.apply(this, args);
    });
  }
  /** Publishes `count` messages on `channel`, each in a turn of its own. */
  async function publishInTurns(hub: StartedHub['hub'], channel: string, count: number) {
    for (let i = 0; i < count; i++) {
      hub.publish(channel, 'n', channel === 'big' ? 'x'.repeat(20_000) : i);
      await turn();
    }
  }

  /** A hub with `maxWriteDelay`, a client subscribed to `channel`, and the server's first write made slow. */
  async function slowHub(maxWriteDelay: number, channel: string) {
    const { hub, url } = await start({ maxWriteDelay });
    const p = await peer(url);
    await p.subscribe(channel);
    return { hub, p, write: slowFirstWrite(300) };
  }
  const data = (p: Peer, channel: string) => p.messages.filter((m) => m.channel === channel && 'data' in m).map((m) => m.data);

  it('after a slow flush, sends each client what arrived meanwhile in one write, in order', async () => {
    const { hub, p, write } = await slowHub(5000, 'busy');
    await publishInTurns(hub, 'busy', 5);
    await expect.poll(() => data(p, 'busy')).toEqual([0, 1, 2, 3, 4]);
    // The first write took 300 ms, so the next four turns' messages waited and went out together.
    expect(write.mock.calls.length).toBe(2);
  });

  it('does not hold back the next write after a slow flush whose writes were already full', async () => {
    const { hub, p, write } = await slowHub(5000, 'busy');
    for (let i = 0; i < 8; i++) hub.publish('busy', 'n', i); // one turn: 8 frames in the slow write
    await turn();
    for (let i = 8; i < 11; i++) {
      hub.publish('busy', 'n', i);
      await turn();
    }
    await expect.poll(() => data(p, 'busy').length).toBe(11);
    expect(write.mock.calls.length).toBe(4);
  });

  it('does not hold back the next write after a slow flush of large messages (each write costs its bytes)', async () => {
    const { hub, p, write } = await slowHub(5000, 'big');
    await publishInTurns(hub, 'big', 4);
    await expect.poll(() => data(p, 'big').length).toBe(4);
    expect(write.mock.calls.length).toBe(4);
  });

  it('with maxWriteDelay 0, writes at the end of every turn however long the last flush took', async () => {
    const { hub, p, write } = await slowHub(0, 'busy');
    await publishInTurns(hub, 'busy', 5);
    await expect.poll(() => data(p, 'busy')).toEqual([0, 1, 2, 3, 4]);
    expect(write.mock.calls.length).toBe(5);
  });

  it('writes what a held flush kept before hub.close() closes the connections', async () => {
    const { hub, p } = await slowHub(5000, 'busy');
    await publishInTurns(hub, 'busy', 3);
    const closed = new Promise<number>((resolve) => p.ws.once('close', resolve));
    await hub.close();
    expect(await closed).toBe(1001);
    expect(data(p, 'busy')).toEqual([0, 1, 2]);
  });

  it('refuses a maxWriteDelay that is not a whole number of milliseconds', () => {
    for (const bad of [-1, 1.5, '10', Infinity]) {
      expect(() => new Hub({ maxWriteDelay: bad as number, logger: false })).toThrow(/option maxWriteDelay must be a whole number of milliseconds/);
    }
  });
});
