import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyWebhook, webhooks, type Webhooks } from '../../pkg/hooks/index.js';
import { Peer, perTest, recordingLogger } from '../helpers.js';
import { startReceiver, type Answer, type Received } from './receiver.js';

const { start, cleanup } = perTest();
const secret = 'a-webhook-secret-of-some-length';

async function setup(answer?: (index: number) => Answer) {
  const { lines, logger } = recordingLogger();
  const s = await start({ logger, authorize: () => true });
  const receiver = await startReceiver(answer);
  cleanup(() => receiver.close());
  return { ...s, receiver, lines };
}

function track(hooks: Webhooks): Webhooks {
  cleanup(() => hooks.close({ timeout: 0 }));
  return hooks;
}

async function peer(url: string): Promise<Peer> {
  const p = await Peer.open(url);
  cleanup(() => p.close());
  return p;
}

/** The signature recomputed with node:crypto only, as a receiver in another language would. */
function independentlyValid(request: Received): boolean {
  const timestamp = String(request.headers['x-livehub-timestamp']);
  const expected = createHmac('sha256', secret).update(`${timestamp}.${request.body}`).digest('hex');
  return request.headers['x-livehub-signature'] === `sha256=${expected}`;
}

describe('webhooks', () => {
  it('POSTs connection and subscription events, signed so that verifyWebhook and a plain HMAC both accept them', async () => {
    const { hub, url, receiver } = await setup();
    track(webhooks(hub, { url: receiver.url, secret, flushInterval: 20 }));
    const p = await peer(url);
    await p.subscribe('room');
    p.send({ type: 'unsubscribe', channel: 'room', id: 'u' });
    await p.next((m) => m.id === 'u');
    p.close();
    await expect.poll(() => receiver.events.map((e) => e.type)).toEqual(['connection.opened', 'subscribed', 'unsubscribed', 'connection.closed']);

    const [opened, subscribed, unsubscribed, closed] = receiver.events;
    const session = opened!.data.session;
    expect(session).toMatchObject({ transport: 'websocket' });
    expect(typeof session.id).toBe('string');
    expect(subscribed!.data).toMatchObject({ session: { id: session.id }, channel: 'room' });
    expect(unsubscribed!.data).toMatchObject({ session: { id: session.id }, channel: 'room' });
    expect(closed!.data).toMatchObject({ session: { id: session.id }, code: 1006 });
    for (const event of receiver.events) {
      expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(event.node).toBe(hub.node);
      expect(new Date(event.time).toISOString()).toBe(event.time);
    }
    expect(new Set(receiver.events.map((e) => e.id)).size).toBe(4);
    for (const request of receiver.requests) {
      expect(request.headers['content-type']).toBe('application/json');
      expect(verifyWebhook(secret, request.body, request.headers).events.length).toBe(request.events.length);
      expect(independentlyValid(request)).toBe(true);
      expect(Math.abs(Number(request.headers['x-livehub-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    }
  });

  it('sends presence joins and leaves', async () => {
    const { hub, url, receiver } = await setup();
    track(webhooks(hub, { url: receiver.url, secret, flushInterval: 20, events: ['presence.joined', 'presence.left'] }));
    const p = await peer(url);
    p.send({ type: 'subscribe', channel: 'presence-room' });
    await p.next((m) => m.type === 'presence');
    p.close();
    await expect.poll(() => receiver.events.map((e) => e.type)).toEqual(['presence.joined', 'presence.left']);
    expect(receiver.events[0]!.data).toMatchObject({ channel: 'presence-room', userId: receiver.events[1]!.data.userId });
  });

  it('sends a full batch at once, without waiting for flushInterval', async () => {
    const { hub, url, receiver } = await setup();
    track(webhooks(hub, { url: receiver.url, secret, batchSize: 4, flushInterval: 600_000 }));
    for (const channel of ['a', 'b']) await (await peer(url)).subscribe(channel);
    await expect.poll(() => receiver.requests.length).toBe(1);
    expect(receiver.requests[0]!.events.map((e) => e.type)).toEqual(['connection.opened', 'subscribed', 'connection.opened', 'subscribed']);
  });

  it('holds an incomplete batch until flushInterval, then sends its events in one request', async () => {
    const { hub, url, receiver } = await setup();
    track(webhooks(hub, { url: receiver.url, secret, batchSize: 100, flushInterval: 1000 }));
    const p = await peer(url);
    await p.subscribe('a');
    p.send({ type: 'unsubscribe', channel: 'a', id: 'u' });
    await p.next((m) => m.id === 'u');
    expect(receiver.requests).toHaveLength(0);
    await expect.poll(() => receiver.requests.length).toBe(1);
    expect(receiver.requests[0]!.events.map((e) => e.type)).toEqual(['connection.opened', 'subscribed', 'unsubscribed']);
  });

  it('flush() sends what is queued at once and resolves when it was delivered', async () => {
    const { hub, url, receiver } = await setup();
    const hooks = track(webhooks(hub, { url: receiver.url, secret, flushInterval: 600_000 }));
    await (await peer(url)).subscribe('a');
    expect(hooks.counters.queued).toBe(2);
    await hooks.flush();
    expect(receiver.events.map((e) => e.type)).toEqual(['connection.opened', 'subscribed']);
    expect(hooks.counters).toMatchObject({ queued: 0, inFlight: 0, delivered: 2, requests: 1 });
  });

  it('retries a batch answered 500 and delivers it once, with the same delivery id and event ids', async () => {
    const { hub, url, receiver } = await setup((i) => ({ status: i === 0 ? 500 : 204 }));
    const hooks = track(webhooks(hub, { url: receiver.url, secret, flushInterval: 600_000, retryDelay: 10 }));
    await (await peer(url)).subscribe('a');
    await hooks.flush();
    expect(receiver.requests).toHaveLength(2);
    const [first, second] = receiver.requests;
    expect(second!.headers['x-livehub-delivery']).toBe(first!.headers['x-livehub-delivery']);
    expect(second!.events.map((e) => e.id)).toEqual(first!.events.map((e) => e.id));
    expect(independentlyValid(second!)).toBe(true);
    expect(hooks.counters).toMatchObject({ delivered: 2, retried: 1, requests: 2, failed: 0, rejected: 0 });
    await hooks.flush();
    expect(receiver.requests).toHaveLength(2);
  });

  it('waits as long as a 429 Retry-After asks before retrying', async () => {
    const { hub, url, receiver } = await setup((i) => (i === 0 ? { status: 429, headers: { 'Retry-After': '1' } } : { status: 200 }));
    const hooks = track(webhooks(hub, { url: receiver.url, secret, flushInterval: 600_000, retryDelay: 1 }));
    await peer(url);
    await hooks.flush();
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests[1]!.at - receiver.requests[0]!.at).toBeGreaterThanOrEqual(950);
    expect(hooks.counters).toMatchObject({ delivered: 1, retried: 1 });
  });

  it('drops a batch answered 400 without retrying, counts it, and logs the status once', async () => {
    const { hub, url, receiver, lines } = await setup(() => ({ status: 400 }));
    const hooks = track(webhooks(hub, { url: receiver.url, secret, flushInterval: 600_000, retryDelay: 1 }));
    await peer(url);
    await hooks.flush();
    await (await peer(url)).subscribe('a');
    await hooks.flush();
    expect(receiver.requests).toHaveLength(2);
    expect(hooks.counters).toMatchObject({ rejected: 3, retried: 0, delivered: 0, failed: 0 });
    const logged = lines.filter((l) => l.code === 'webhook_rejected');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.message).toContain('HTTP 400');
  });

  it('does not follow a redirect: the batch is rejected and the warning says to change url', async () => {
    const { hub, url, receiver, lines } = await setup((i) => (i === 0 ? { status: 307, headers: { Location: '/elsewhere' } } : { status: 204 }));
    const hooks = track(webhooks(hub, { url: receiver.url, secret, flushInterval: 600_000, retryDelay: 1 }));
    await peer(url);
    await hooks.flush();
    expect(receiver.requests).toHaveLength(1);
    expect(hooks.counters).toMatchObject({ rejected: 1, delivered: 0, retried: 0 });
    expect(lines.find((l) => l.code === 'webhook_rejected')?.message).toMatch(/HTTP 307.*set url/);
  });

  it('gives up on an unreachable endpoint after its retries, counting the events as failed and logging why', async () => {
    const { hub, url, receiver, lines } = await setup();
    await receiver.close();
    const hooks = track(webhooks(hub, { url: receiver.url, secret, flushInterval: 600_000, retries: 2, retryDelay: 5 }));
    await (await peer(url)).subscribe('a');
    await hooks.flush();
    expect(hooks.counters).toMatchObject({ failed: 2, requests: 3, retried: 2, delivered: 0 });
    const logged = lines.filter((l) => l.code === 'webhook_failed');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.message).toMatch(/3 attempt\(s\) failed.*ECONNREFUSED/);
  });

  it('aborts a request that takes longer than timeout and retries it', async () => {
    const { hub, url, receiver } = await setup((i) => (i === 0 ? 'hang' : { status: 204 }));
    const hooks = track(webhooks(hub, { url: receiver.url, secret, flushInterval: 600_000, timeout: 200, retryDelay: 5 }));
    await peer(url);
    await hooks.flush();
    expect(receiver.requests).toHaveLength(2);
    expect(hooks.counters).toMatchObject({ delivered: 1, retried: 1 });
    receiver.release();
  });

  it('past maxQueue, drops new events, counts them and warns naming maxQueue; then delivers those it kept, in order', async () => {
    const { hub, receiver, lines } = await setup((i) => (i === 0 ? 'hang' : { status: 204 }));
    const hooks = track(webhooks(hub, { url: receiver.url, secret, events: ['message.published'], batchSize: 2, maxQueue: 5, flushInterval: 600_000 }));
    await hub.publish('news', 'n', 1);
    await hub.publish('news', 'n', 2);
    await expect.poll(() => receiver.hanging).toBe(1);
    for (let i = 3; i <= 12; i++) await hub.publish('news', 'n', i);
    expect(hooks.counters).toMatchObject({ inFlight: 2, queued: 3, dropped: 7 });
    const warnings = lines.filter((l) => l.code === 'webhook_dropped');
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings[0]!.level).toBe('warn');
    expect(warnings[0]!.message).toContain('maxQueue');
    receiver.release();
    await hooks.flush();
    expect(receiver.events.map((e) => e.data.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(hooks.counters).toMatchObject({ delivered: 5, dropped: 7, queued: 0, inFlight: 0 });
  });

  it('a hanging endpoint does not delay messages to clients', async () => {
    const { hub, url, receiver } = await setup(() => 'hang');
    const hooks = track(webhooks(hub, { url: receiver.url, secret, events: ['subscribed', 'message.published', 'message.delivered'], batchSize: 1, timeout: 60_000 }));
    const p = await peer(url);
    await p.subscribe('news');
    await expect.poll(() => receiver.hanging).toBe(1);
    for (let i = 0; i < 200; i++) void hub.publish('news', 'n', i);
    for (let i = 0; i < 200; i++) expect((await p.next((m) => m.type === 'n')).data).toBe(i);
    expect(receiver.requests).toHaveLength(1);
    expect(hooks.counters.delivered).toBe(0);
    await hooks.close({ timeout: 0 });
    expect(hooks.counters).toMatchObject({ delivered: 0, dropped: 0, queued: 0, inFlight: 0 });
    expect(hooks.counters.failed).toBeGreaterThan(200);
  });

  it('close() sends what is queued, then stops listening', async () => {
    const { hub, url, receiver } = await setup();
    const hooks = webhooks(hub, { url: receiver.url, secret, flushInterval: 600_000 });
    await (await peer(url)).subscribe('a');
    await hooks.close();
    expect(receiver.events.map((e) => e.type)).toEqual(['connection.opened', 'subscribed']);
    await (await peer(url)).subscribe('b');
    await hooks.flush();
    expect(hooks.counters).toMatchObject({ queued: 0, delivered: 2 });
    expect(receiver.requests).toHaveLength(1);
  });

  it('closed after hub.close(), sends the close events of the connections the hub closed', async () => {
    const { hub, url, receiver } = await setup();
    const hooks = webhooks(hub, { url: receiver.url, secret, flushInterval: 600_000 });
    const p = await peer(url);
    await hub.close();
    await p.whenClosed();
    await hooks.close();
    expect(receiver.events.map((e) => [e.type, e.data.code])).toEqual([['connection.opened', undefined], ['connection.closed', 1001]]);
  });

  it('close() gives up, counted and logged, what it cannot deliver by its timeout', async () => {
    const { hub, url, receiver, lines } = await setup(() => 'hang');
    const hooks = webhooks(hub, { url: receiver.url, secret, batchSize: 1, timeout: 60_000 });
    await (await peer(url)).subscribe('a');
    await expect.poll(() => receiver.hanging).toBe(1);
    await hooks.close({ timeout: 50 });
    expect(hooks.counters).toMatchObject({ failed: 2, delivered: 0, queued: 0, inFlight: 0 });
    expect(lines.some((l) => l.code === 'webhook_failed' && l.message.includes('close timeout'))).toBe(true);
  });

  it('uses an injected fetch, and retries one that throws like a network error', async () => {
    const { hub, url, receiver } = await setup();
    let calls = 0;
    const hooks = track(webhooks(hub, {
      url: receiver.url, secret, flushInterval: 600_000, retryDelay: 1,
      fetch: (target, init) => {
        calls++;
        if (calls === 1) throw new Error('the injected fetch failed');
        return fetch(target, init);
      },
    }));
    await peer(url);
    await hooks.flush();
    expect(calls).toBe(2);
    expect(receiver.requests).toHaveLength(1);
    expect(hooks.counters).toMatchObject({ delivered: 1, retried: 1 });
    expect(hub.info().clients).toBe(1);
  });
});
