import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { reloadOn } from '../../client/inertia.js';
import { inertia, pageScript } from '../../pkg/inertia/index.js';
import type { HubMessage } from '../../pkg/index.js';

let base = '';
let close = () => {};
const expensive = vi.fn(() => 'computed');

beforeAll(async () => {
  const app = express();
  app.use(inertia({ version: 'v1', render: (_page, script) => `<html><body>${script}<div id="app"></div></body></html>` }));
  app.get('/page', (_req, res) => void res.inertia('Orders', { orders: [1, 2], user: 'ann', note: '</script><b>', lazy: expensive }));
  app.put('/orders', (_req, res) => res.redirect('/page'));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(() => close());

describe('inertia adapter', () => {
  it('renders a first visit as HTML with the page object in a JSON script that no prop can break out of', async () => {
    const res = await fetch(`${base}/page`);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).not.toContain('</script><b>');
    const json = /<script data-page="app" type="application\/json">(.*?)<\/script>/.exec(html)![1]!;
    expect(JSON.parse(json)).toEqual({
      component: 'Orders', url: '/page', version: 'v1',
      props: { orders: [1, 2], user: 'ann', note: '</script><b>', lazy: 'computed' },
    });
  });

  it('answers an Inertia visit with the page as JSON and X-Inertia', async () => {
    const res = await fetch(`${base}/page`, { headers: { 'X-Inertia': 'true', 'X-Inertia-Version': 'v1' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-inertia')).toBe('true');
    expect(res.headers.get('vary')).toContain('X-Inertia');
    expect((await res.json()).component).toBe('Orders');
  });

  it('answers an Inertia GET with a stale asset version with 409 and X-Inertia-Location', async () => {
    const res = await fetch(`${base}/page`, { headers: { 'X-Inertia': 'true', 'X-Inertia-Version': 'old' } });
    expect(res.status).toBe(409);
    expect(res.headers.get('x-inertia-location')).toBe('/page');
  });

  it('sends only the requested props on a partial reload and never computes the others', async () => {
    expensive.mockClear();
    const headers = { 'X-Inertia': 'true', 'X-Inertia-Version': 'v1', 'X-Inertia-Partial-Component': 'Orders' };
    const only = await (await fetch(`${base}/page`, { headers: { ...headers, 'X-Inertia-Partial-Data': 'orders' } })).json();
    expect(only.props).toEqual({ orders: [1, 2] });
    expect(expensive).not.toHaveBeenCalled();
    const except = await (await fetch(`${base}/page`, { headers: { ...headers, 'X-Inertia-Partial-Except': 'lazy,note' } })).json();
    expect(except.props).toEqual({ orders: [1, 2], user: 'ann' });
    const otherComponent = await (await fetch(`${base}/page`, { headers: { ...headers, 'X-Inertia-Partial-Component': 'Other', 'X-Inertia-Partial-Data': 'orders' } })).json();
    expect(Object.keys(otherComponent.props)).toEqual(['orders', 'user', 'note', 'lazy']);
  });

  it('turns a redirect after an Inertia PUT into 303', async () => {
    const res = await fetch(`${base}/orders`, { method: 'PUT', redirect: 'manual', headers: { 'X-Inertia': 'true', 'X-Inertia-Version': 'v1' } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/page');
  });

  it('escapes < in pageScript', () => {
    expect(pageScript({ component: 'A', props: { x: '<' }, url: '/', version: null })).toContain('\\u003c');
  });
});

describe('reloadOn', () => {
  function fakeLive() {
    const handlers = new Map<string, (data: unknown, message: HubMessage) => void>();
    return {
      handlers,
      on(channel: string, handler: (data: unknown, message: HubMessage) => void) {
        handlers.set(channel, handler);
        return () => handlers.delete(channel);
      },
      emit(channel: string, type: string) { handlers.get(channel)?.(null, { channel, type, data: null }); },
    };
  }

  it('reloads only the given props once for the events of one tick', async () => {
    const live = fakeLive();
    const router = { reload: vi.fn() };
    const stop = reloadOn('orders', { only: ['orders'], live: live as never, router });
    live.emit('orders', 'created');
    live.emit('orders', 'updated');
    await new Promise((r) => setTimeout(r, 5));
    expect(router.reload).toHaveBeenCalledTimes(1);
    expect(router.reload).toHaveBeenCalledWith({ only: ['orders'] });
    stop();
    live.emit('orders', 'created');
    await new Promise((r) => setTimeout(r, 5));
    expect(router.reload).toHaveBeenCalledTimes(1);
  });

  it('ignores message types outside events', async () => {
    const live = fakeLive();
    const router = { reload: vi.fn() };
    reloadOn('orders', { events: ['created'], live: live as never, router });
    live.emit('orders', 'viewed');
    await new Promise((r) => setTimeout(r, 5));
    expect(router.reload).not.toHaveBeenCalled();
    live.emit('orders', 'created');
    await new Promise((r) => setTimeout(r, 5));
    expect(router.reload).toHaveBeenCalledTimes(1);
  });

  it('reloads the props when the connection could not recover the channel (a gap)', async () => {
    const live = fakeLive();
    const listeners = new Map<string, (event: { channel: string }) => void>();
    const client = { addEventListener: (name: string, fn: (event: { channel: string }) => void) => { listeners.set(name, fn); return () => listeners.delete(name); } };
    const router = { reload: vi.fn() };
    const stop = reloadOn('orders', { only: ['orders'], events: [], live: { ...live, client } as never, router });
    live.emit('orders', 'created'); // `events: []`: messages alone reload nothing
    listeners.get('gap')!({ channel: 'other' });
    await new Promise((r) => setTimeout(r, 5));
    expect(router.reload).not.toHaveBeenCalled();
    listeners.get('gap')!({ channel: 'orders' });
    await new Promise((r) => setTimeout(r, 5));
    expect(router.reload).toHaveBeenCalledWith({ only: ['orders'] });
    stop();
    expect(listeners.has('gap')).toBe(false);
  });
});

