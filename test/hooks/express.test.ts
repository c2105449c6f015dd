import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { verifyWebhook, WebhookVerificationError, webhooks, type WebhookEvent } from '../../pkg/hooks/index.js';
import { closeServer, Peer, perTest } from '../helpers.js';

const { start, cleanup } = perTest();
const secret = 'a-webhook-secret-of-some-length';

/** The receiver of docs/webhooks.md, as written there. */
async function startExpressReceiver() {
  const received: WebhookEvent[] = [];
  const seen = new Set<string>();
  const app = express();
  app.post('/hooks/livehub', express.raw({ type: 'application/json' }), (req, res) => {
    let payload;
    try {
      payload = verifyWebhook(secret, req.body, req.headers);
    } catch (error) {
      if (error instanceof WebhookVerificationError) return res.status(401).json({ error: error.code });
      throw error;
    }
    for (const event of payload.events) {
      if (seen.has(event.id)) continue; // a retried batch: already handled
      seen.add(event.id);
      received.push(event);
    }
    res.sendStatus(204);
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  cleanup(() => closeServer(server));
  return { received, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/livehub` };
}

describe('an Express receiver as in docs/webhooks.md', () => {
  it('gets the hub events, verified', async () => {
    const { hub, url } = await start({ logger: false });
    const receiver = await startExpressReceiver();
    const hooks = webhooks(hub, { url: receiver.url, secret, flushInterval: 600_000 });
    cleanup(() => hooks.close({ timeout: 0 }));
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    await peer.subscribe('orders');
    await hooks.flush();
    expect(receiver.received.map((e) => e.type)).toEqual(['connection.opened', 'subscribed']);
    expect(hooks.counters).toMatchObject({ delivered: 2, rejected: 0 });
  });

  it('answers 401 with the reason to a request signed with another secret, and livehub does not retry it', async () => {
    const { hub, url } = await start({ logger: false });
    const receiver = await startExpressReceiver();
    const hooks = webhooks(hub, { url: receiver.url, secret: 'not-the-receivers-secret', flushInterval: 600_000, retryDelay: 1 });
    cleanup(() => hooks.close({ timeout: 0 }));
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    await hooks.flush();
    expect(receiver.received).toEqual([]);
    expect(hooks.counters).toMatchObject({ rejected: 1, requests: 1, delivered: 0 });
    const forged = await fetch(receiver.url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Livehub-Timestamp': String(Math.floor(Date.now() / 1000)) }, body: '{"events":[]}' });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toEqual({ error: 'missing_signature' });
  });
});
