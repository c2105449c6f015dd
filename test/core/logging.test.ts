import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Hub } from '../../pkg/index.js';
import { hubLogger, type Logger } from '../../pkg/core/logger.js';
import { Peer, perTest, recordingLogger, turn } from '../helpers.js';
import { coreOf } from '../../pkg/hub.js';

const { start, cleanup } = perTest();

function refusedStatus(url: string, origin: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { Origin: origin } });
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on('open', () => { resolve(101); ws.close(); });
    ws.on('error', () => {});
  });
}

describe('the hub logs what it refuses or loses', () => {
  it('names a refused origin and the option that allows it, once per origin however often it comes', async () => {
    const { logger, lines } = recordingLogger();
    const { url } = await start({ logger });
    for (let i = 0; i < 5; i++) expect(await refusedStatus(url, 'http://localhost:5173')).toBe(403);
    const refused = lines.filter((l) => l.code === 'origin_refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.level).toBe('warn');
    expect(refused[0]!.message).toContain('http://localhost:5173');
    expect(refused[0]!.message).toContain('origins: ["http://localhost:5173"]');
  });

  it('logs a refused subscribe with the channel, the user and what would allow it, once per channel a minute', async () => {
    const { logger, lines } = recordingLogger();
    const { url } = await start({ logger, authenticate: () => ({ userId: 'ann' }) });
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    for (const id of ['a', 'b']) {
      peer.send({ type: 'subscribe', channel: 'presence-shop', id });
      expect(await peer.next((m) => m.id === id)).toMatchObject({ type: 'error', code: 'forbidden' });
    }
    peer.send({ type: 'subscribe', channel: 'user:bob', id: 'c' });
    expect(await peer.next((m) => m.id === 'c')).toMatchObject({ code: 'forbidden' });
    const refused = lines.filter((l) => l.code === 'subscribe_refused');
    expect(refused).toHaveLength(2);
    expect(refused[0]).toMatchObject({ level: 'warn', message: expect.stringContaining('presence-shop by user "ann"') });
    expect(refused[0]!.message).toContain('need an authorize hook that allows them');
    expect(refused[1]!.message).toContain('user:bob');
    expect(refused[1]!.message).toContain("the connection's own is user:ann");
  });

  it('logs a refused publish and a request a handler refused with a code of its own', async () => {
    const { logger, lines } = recordingLogger();
    const { hub, url } = await start({ logger, authorize: ({ action }) => action === 'subscribe' });
    hub.handle('order.cancel', (_message, _ctx, kit) => kit.fail('not_yours', 'this order belongs to someone else'));
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    peer.send({ type: 'publish', channel: 'news', event: 'n', data: 1, id: 'p' });
    expect(await peer.next((m) => m.id === 'p')).toMatchObject({ code: 'forbidden' });
    peer.send({ type: 'order.cancel', data: { order: 7 }, id: 'r' });
    expect(await peer.next((m) => m.id === 'r')).toMatchObject({ code: 'not_yours' });
    expect(lines.find((l) => l.code === 'publish_refused')?.message).toContain('the authorize hook did not return true for this publish');
    expect(lines.find((l) => l.code === 'request_refused')?.message).toMatch(/"order.cancel" refused a request of an anonymous connection .* with 'not_yours': this order belongs to someone else/);
  });

  it('names an evicted slow consumer and the options that bound it', async () => {
    const { logger, lines } = recordingLogger();
    const { hub, url } = await start({ logger, maxBufferedBytes: 64 * 1024, writeWait: 500 });
    const slow = await Peer.open(url);
    cleanup(() => slow.close());
    await slow.subscribe('firehose');
    (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
    const payload = 'x'.repeat(8 * 1024);
    for (let i = 0; i < 2000 && hub.info().evictions === 0; i++) {
      hub.publish('firehose', 'blob', payload);
      if (i % 50 === 0) await turn();
    }
    await expect.poll(() => lines.filter((l) => l.code === 'slow_consumer').length, { timeout: 5000 }).toBe(1);
    const line = lines.find((l) => l.code === 'slow_consumer')!;
    expect(line.message).toMatch(/4001/);
    expect(line.message).toMatch(/maxBufferedBytes/);
  });

  it('reports a logger that throws nowhere and keeps serving', async () => {
    const broken: Logger = { debug() {}, info() {}, warn() { throw new Error('disk full'); }, error() { throw new Error('disk full'); } };
    const { url } = await start({ logger: broken });
    expect(await refusedStatus(url, 'http://elsewhere.example')).toBe(403);
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    await peer.subscribe('still-up');
  });

  it('writes warnings to the console by default, and nothing with logger: false', async () => {
    const printed: string[] = [];
    const original = console.warn;
    console.warn = (message: string) => { printed.push(message); };
    cleanup(() => { console.warn = original; });
    const noisy = await start();
    await refusedStatus(noisy.url, 'http://a.example');
    const quiet = await start({ logger: false });
    await refusedStatus(quiet.url, 'http://b.example');
    // A sentinel: a refusal the noisy hub logs, after the quiet one's.
    await refusedStatus(noisy.url, 'http://c.example');
    await expect.poll(() => printed.filter((p) => p.includes('c.example'))).toHaveLength(1);
    expect(printed.filter((p) => p.includes('a.example'))).toHaveLength(1);
    expect(printed.filter((p) => p.includes('b.example'))).toHaveLength(0);
  });

  it('counts the repeats of a cause and gives the count with its next line', () => {
    const { logger, lines } = recordingLogger();
    let now = 0;
    const log = hubLogger(logger, 1000, () => now);
    for (let i = 0; i < 4; i++) log.log('warn', 'same', { code: 'x' }, 'it happened');
    now = 1500;
    log.log('warn', 'same', { code: 'x' }, 'it happened');
    expect(lines.map((l) => l.message)).toEqual(['it happened', 'it happened (3 more since the last report)']);
  });
});

describe('hub options', () => {
  it('throw a TypeError naming an unknown option and the closest valid one', () => {
    expect(() => new Hub({ orgins: ['http://a.example'] } as never)).toThrow(/unknown option 'orgins' for new Hub\(\); did you mean 'origins'\?/);
    expect(() => new Hub({ logger: { warn() {} } } as never)).toThrow(TypeError);
  });

  it('default to a 25 s ping and an 8 s pong allowance, and derive one from the other when given alone', () => {
    const hubs = [new Hub({ logger: false }), new Hub({ logger: false, pongWait: 60_000 }), new Hub({ logger: false, pingPeriod: 10_000 })];
    cleanup(() => Promise.all(hubs.map((h) => h.close())));
    expect(hubs.map((h) => [coreOf(h).options.pingPeriod, coreOf(h).options.pongWait])).toEqual([[25_000, 33_000], [54_000, 60_000], [10_000, 18_000]]);
  });
});
