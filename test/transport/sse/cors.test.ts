import { describe, expect, it } from 'vitest';
import type { HubOptions } from '../../../pkg/index.js';
import { perTest } from '../../helpers.js';

/** A page on another origin than the hub, allowed by `origins`: the SSE endpoint's CORS answers. */

const APP = 'https://app.example';
const { start, cleanup } = perTest();

/** A hub serving only SSE, on every path, logging to `logs`. */
async function sseHub(options: HubOptions = {}) {
  const { base, logs } = await start({ origins: [APP], ...options }, { record: true, attach: false, handler: (hub) => (request, response) => hub.handleEventSource(request, response) });
  return { url: `${base}/events`, logs };
}

/** Reads a stream's first event (its token); the stream stays open until the test ends. */
async function firstEvent(response: Response): Promise<string> {
  const reader = response.body!.getReader();
  cleanup(() => reader.cancel());
  let text = '';
  while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
  return text;
}

describe('the SSE endpoint for a page on another origin', () => {
  it('answers the commands\' preflight from an allowed origin: POST with Content-Type and X-Livehub-Stream, credentials allowed', async () => {
    const { url } = await sseHub();
    const response = await fetch(url, {
      method: 'OPTIONS',
      headers: { Origin: APP, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-livehub-stream' },
    });
    expect(response.status).toBe(204);
    expect(Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control') || name === 'vary'))).toEqual({
      'access-control-allow-origin': APP,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'Content-Type, X-Livehub-Stream',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
  });

  it('opens the stream and takes its commands with the origin allowed, so the browser lets the page read both', async () => {
    const { url } = await sseHub({ canPublish: () => true });
    const stream = await fetch(`${url}?channel=news`, { headers: { Origin: APP } });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('access-control-allow-origin')).toBe(APP);
    expect(stream.headers.get('access-control-allow-credentials')).toBe('true');
    const token = /"token":"([^"]+)"/.exec(await firstEvent(stream))![1]!;
    const command = await fetch(url, {
      method: 'POST',
      headers: { Origin: APP, 'Content-Type': 'application/json', 'X-Livehub-Stream': token },
      body: JSON.stringify({ type: 'ping', id: 1 }),
    });
    expect(command.status).toBe(202);
    expect(command.headers.get('access-control-allow-origin')).toBe(APP);
    const sameSite = await fetch(`${url}?channel=news`); // no Origin: no CORS headers, but the answer still varies by it
    expect([sameSite.status, sameSite.headers.get('access-control-allow-origin'), sameSite.headers.get('vary')]).toEqual([200, null, 'Origin']);
    await sameSite.body?.cancel();
  });

  it('refuses another origin with 403 on every method, and logs the origins setting that would allow it', async () => {
    const { url, logs } = await sseHub();
    const evil = 'https://evil.example';
    const preflight = await fetch(url, { method: 'OPTIONS', headers: { Origin: evil, 'Access-Control-Request-Method': 'POST' } });
    const stream = await fetch(`${url}?channel=news`, { headers: { Origin: evil } });
    const command = await fetch(url, { method: 'POST', headers: { Origin: evil, 'Content-Type': 'application/json', 'X-Livehub-Stream': 'a.b.c' }, body: '{}' });
    expect([preflight.status, stream.status, command.status]).toEqual([403, 403, 403]);
    expect(await command.json()).toEqual({ error: { code: 'origin_refused', message: expect.stringContaining('origins') } });
    expect(stream.headers.get('access-control-allow-origin')).toBeNull();
    expect([preflight, stream, command].map((r) => r.headers.get('vary'))).toEqual(['Origin', 'Origin', 'Origin']); // caches key on it
    expect(logs.some((l) => (l.level === 'warn' || l.level === 'error') && l.message.includes(`origin ${evil}`) && l.message.includes(`origins: ["${evil}"]`))).toBe(true);
  });

  it('refuses a preflight asking for headers a command does not carry, naming them', async () => {
    const { url } = await sseHub();
    const response = await fetch(url, { method: 'OPTIONS', headers: { Origin: APP, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type, authorization' } });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { code: 'bad_preflight', message: expect.stringContaining('authorization') } });
  });
});
