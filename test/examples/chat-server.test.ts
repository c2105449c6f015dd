import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createChatServer, type ChatServerOptions } from '../../examples/chat/server.js';
import { closeServer, Peer } from '../helpers.js';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => { for (const stop of stops.splice(0)) await stop(); });

async function start(options: ChatServerOptions) {
  const chat = createChatServer(options);
  await new Promise<void>((resolve) => chat.server.listen(0, '127.0.0.1', resolve));
  const port = (chat.server.address() as AddressInfo).port;
  stops.push(async () => { await chat.hub.close(); await closeServer(chat.server); });
  return { ...chat, port, base: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/ws` };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('the example chat server', () => {
  it('refuses origins outside its allowlist and accepts those in it', async () => {
    const chat = await start({ origins: ['https://chat.example'] });
    await expect(Peer.open(chat.ws, { headers: { Origin: 'https://evil.example' } })).rejects.toThrow('HTTP 403');
    const ok = await Peer.open(chat.ws, { headers: { Origin: 'https://chat.example' } });
    ok.close();
  });

  it('answers a bad message post with 422 and publishes a good one on "chat"', async () => {
    const chat = await start({});
    const reader = await Peer.open(chat.ws);
    await reader.subscribe('chat');
    expect((await post(`${chat.base}/messages`, { author: '', body: 'x' })).status).toBe(422);
    const res = await post(`${chat.base}/messages`, { author: 'ann', body: 'hello' });
    expect(res.status).toBe(201);
    const sent = await res.json();
    expect(await reader.next((m) => m.channel === 'chat')).toMatchObject({ channel: 'chat', type: 'message', data: sent });
    reader.close();
  });

  describe('in JWT mode', () => {
    it('requires a login for the WebSocket, then delivers the private channel with the author from the token', async () => {
      const chat = await start({ auth: 'jwt', secret: 'example-secret-that-is-long-enough-32b' });
      await expect(Peer.open(chat.ws)).rejects.toThrow('HTTP 401');
      expect((await post(`${chat.base}/messages`, { author: 'x', body: 'anon' })).status).toBe(401);

      const login = await post(`${chat.base}/login`, { name: 'zoe' });
      expect(login.status).toBe(204);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      expect(login.headers.get('set-cookie')).toMatch(/HttpOnly/i);

      const reader = await Peer.open(chat.ws, { headers: { Cookie: cookie } });
      reader.send({ type: 'subscribe', channel: 'chat', id: 'public' });
      expect(await reader.next((m) => m.type === 'error')).toMatchObject({ code: 'forbidden', id: 'public' });
      await reader.subscribe('private-chat');
      const res = await post(`${chat.base}/messages`, { author: 'someone else', body: 'secret' }, { Cookie: cookie });
      expect(res.status).toBe(201);
      const message = await reader.next((m) => m.channel === 'private-chat');
      expect(message.data).toMatchObject({ author: 'zoe', body: 'secret' });

      const page = await (await fetch(`${chat.base}/`, { headers: { Cookie: cookie } })).text();
      expect(page).toContain('"user":"zoe"');
      expect(page).toContain('"channel":"private-chat"');

      await post(`${chat.base}/logout`, {}, { Cookie: cookie });
      expect((await reader.whenClosed()).code).toBe(4503);
    });
  });
});
