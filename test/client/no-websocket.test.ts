import { afterEach, expect, it, vi } from 'vitest';
import { LiveClient, type LiveStatus } from '../../client/index.js';

// As in an app without the `ws` package, on a Node with no global WebSocket.
vi.mock('ws', () => { throw new Error("Cannot find package 'ws'"); });

afterEach(() => {
  vi.unstubAllGlobals();
});

it('shows an error naming the fix, and never throws, when there is neither a global WebSocket nor ws', async () => {
  vi.stubGlobal('WebSocket', undefined);
  let client: LiveClient | undefined;
  expect(() => { client = new LiveClient('ws://127.0.0.1:9/ws', { reconnect: { delay: 10 } }); }).not.toThrow();
  const c = client!;
  const statuses: LiveStatus[] = [];
  const errors: Error[] = [];
  c.events.on('status', (s) => statuses.push(s));
  c.events.on('error', (e) => errors.push(e));
  await expect.poll(() => c.status).toBe('closed');
  expect(c.lastError).toMatchObject({ code: 'no_websocket' });
  expect(c.lastError!.message).toMatch(/npm install ws/);
  expect(c.lastError!.message).toMatch(/WebSocket option/);
  expect(errors).toEqual([c.lastError]);
  expect(statuses).toEqual(['closed']);
  c.dispose();
});
