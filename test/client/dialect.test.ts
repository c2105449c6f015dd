import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient } from '../../client/index.js';
import { DialectChoice } from '../../client/dialect.js';
import { Hub } from '../../pkg/index.js';
import { closeServer, perTest } from '../helpers.js';
import { startOriginalHub } from './original-hub.js';

const { cleanup } = perTest();

async function originalHub() {
  const hub = await startOriginalHub();
  cleanup(() => hub.close());
  return hub;
}

function client(url: string, options: ConstructorParameters<typeof LiveClient>[1] = {}) {
  const c = new LiveClient(url, { WebSocket, reconnect: { delay: 20 }, ...options });
  cleanup(() => c.dispose());
  return c;
}

describe('the client and a hub of the plain protocol (no subprotocol selected)', () => {
  it('connects with no option, says it speaks plain, and sends subscribe and unsubscribe frames exactly as that protocol has them', async () => {
    const hub = await originalHub();
    const c = client(hub.url);
    const seen: unknown[] = [];
    const stop = c.on('news', (data) => seen.push(data));
    await expect.poll(() => c.status, { timeout: 5000 }).toBe('open');
    expect(c.dialect).toBe('plain');
    await expect.poll(() => hub.subscribers('news')).toBe(1);
    stop();
    await expect.poll(() => hub.subscribers('news')).toBe(0);
    const frames = hub.received.at(-1)!.filter((f) => !f.includes('"ping"'));
    expect(frames).toEqual(['{"type":"subscribe","channel":"news"}', '{"type":"unsubscribe","channel":"news"}']);
  });

  it('takes several messages written in one frame, one per line, in order', async () => {
    const hub = await originalHub();
    const c = client(hub.url);
    const seen: Array<[string, unknown]> = [];
    c.on('news', (data, message) => seen.push([message.type, data]));
    c.on('*', (data) => seen.push(['everyone', data]));
    await expect.poll(() => hub.subscribers('news')).toBe(1);
    hub.publish('news', 'created', { id: 1 });
    hub.publish('news', 'updated', { id: 1, n: 2 });
    hub.publish('*', 'announcement', 'maintenance');
    hub.publish('news', 'deleted', 1);
    hub.flush();
    await expect.poll(() => seen).toEqual([['created', { id: 1 }], ['updated', { id: 1, n: 2 }], ['everyone', 'maintenance'], ['deleted', 1]]);
    expect(c.lastError).toBeNull();
  });

  it('subscribes again after the connection drops, without ids', async () => {
    const hub = await originalHub();
    const c = client(hub.url);
    const seen: unknown[] = [];
    c.on('news', (data) => seen.push(data));
    await expect.poll(() => hub.subscribers('news')).toBe(1);
    const connections = hub.received.length;
    hub.dropAll();
    await expect.poll(() => hub.received.length, { timeout: 5000 }).toBeGreaterThan(connections);
    await expect.poll(() => hub.subscribers('news')).toBe(1);
    expect(hub.received.at(-1)!.filter((f) => f.includes('subscribe'))).toEqual(['{"type":"subscribe","channel":"news"}']);
    hub.publish('news', 'n', 'after');
    hub.flush();
    await expect.poll(() => seen).toEqual(['after']);
  });

  it('with dialect: \'livehub\' never drops the subprotocol: every attempt fails, each reported, until it gives up', async () => {
    const hub = await originalHub();
    const c = client(hub.url, { dialect: 'livehub', reconnect: { delay: 10, maxAttempts: 2 } });
    const errors: string[] = [];
    c.events.on('error', (error) => errors.push((error as { code?: string }).code ?? ''));
    await expect.poll(() => c.status, { timeout: 5000 }).toBe('closed');
    expect(errors).toEqual(['connect_failed', 'connect_failed', 'connect_failed', 'reconnect_failed']);
    expect(hub.received.flat()).toEqual([]);
    expect(c.dialect).toBeNull();
  });
});

describe('the client and livehub\'s hub', () => {
  it('speaks livehub\'s protocol; reached first by a plain attempt, it probes, finds livehub and reconnects speaking it', async () => {
    const hub = new Hub({ logger: false });
    cleanup(() => hub.close());
    let upgrades = 0;
    const server = createServer();
    // The first handshake fails (a proxy hiccup): the next attempt offers no subprotocol.
    server.on('upgrade', (request, socket, head) => {
      if (++upgrades === 1) socket.destroy();
      else hub.handleUpgrade(request, socket, head);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup(() => closeServer(server));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
    const c = client(url);
    const dialects: Array<string | null> = [];
    c.events.on('open', () => dialects.push(c.dialect));
    const seen: Array<[unknown, number | undefined]> = [];
    c.on('news', (data, message) => seen.push([data, message.offset]));
    await expect.poll(() => dialects, { timeout: 5000 }).toEqual(['plain', 'livehub']);
    expect(upgrades).toBe(3);
    await expect.poll(() => hub.channelList()).toEqual([{ channel: 'news', subscribers: 1 }]);
    await hub.publish('news', 'n', 'full');
    await expect.poll(() => seen).toEqual([['full', 1]]);
  });
});

describe('DialectChoice', () => {
  it('offers the subprotocol, drops it after a failed attempt in auto, and at once when the failure says none was selected', () => {
    const auto = new DialectChoice('auto');
    expect(auto.offers()).toBe(true);
    auto.failedBeforeOpen(true, undefined);
    expect(auto.offers()).toBe(false);
    auto.failedBeforeOpen(false, undefined);
    expect(auto.offers()).toBe(true);
    auto.failedBeforeOpen(true, 'Server sent no subprotocol');
    expect(auto.offers()).toBe(false);
    expect(auto.opened('')).toBe('plain');
    expect(auto.probes()).toBe(true);
    auto.livehubAnswered();
    expect(auto.offers()).toBe(true);
    expect(auto.opened('livehub.v1')).toBe('livehub');
    const fixed = new DialectChoice('livehub');
    fixed.failedBeforeOpen(true, 'Server sent no subprotocol');
    expect(fixed.offers()).toBe(true);
    expect(new DialectChoice('plain').offers()).toBe(false);
  });
});
