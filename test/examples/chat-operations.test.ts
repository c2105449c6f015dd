import { describe, expect, it } from 'vitest';
import { statusChannel } from '../../pkg/observe/status-page.js';
import { Peer } from '../helpers.js';
import { chatServers, post } from './chat.js';

/** Who may see the example chat's /status and /metrics (examples/chat/operations.ts). */

const chats = chatServers();
const KEY = 'a-status-key-for-tests';
const SECRET = 'example-secret-that-is-long-enough-32b';

async function login(base: string, name: string): Promise<string> {
  const res = await post(`${base}/login`, { name });
  expect(res.status).toBe(204);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

/** Subscribes and answers the reply: `subscribed` or the error frame's code. */
async function trySubscribe(peer: Peer, channel: string): Promise<string> {
  peer.send({ type: 'subscribe', channel, id: channel });
  const reply = await peer.next((m) => (m.type === 'subscribed' && m.channel === channel) || (m.type === 'error' && m.id === channel));
  return reply.type === 'subscribed' ? 'subscribed' : reply.code;
}

describe('the example chat\'s /status and /metrics', () => {
  it('refuses them outside development without a key, with 403 saying what to set, and keeps health open', async () => {
    const chat = await chats.start({ development: false });
    expect(chat.operations).toMatch(/closed: set LIVEHUB_STATUS_KEY.*NODE_ENV=development/);
    for (const path of ['/status', '/metrics']) {
      const res = await fetch(`${chat.base}${path}`);
      expect(res.status, path).toBe(403);
      expect(await res.json()).toMatchObject({ error: { code: 'forbidden', message: expect.stringContaining('LIVEHUB_STATUS_KEY') } });
    }
    expect((await fetch(`${chat.base}/health/live`)).status).toBe(200);
    expect((await fetch(`${chat.base}/health/ready`)).status).toBe(200);
    // Nor can a socket watch the status channel.
    const peer = await Peer.open(chat.ws);
    expect(await trySubscribe(peer, 'livehub-status')).toBe('forbidden');
    peer.close();
  });

  it('throws a TypeError for a status key shorter than 8 characters', async () => {
    await expect(chats.start({ statusKey: 'short' })).rejects.toThrow(/statusKey.*8 characters/);
  });

  it('opens them to anyone in development, and lets the page watch its channel', async () => {
    const chat = await chats.start({ development: true });
    expect(chat.operations).toMatch(/open to anyone \(development/);
    expect((await fetch(`${chat.base}/status`)).status).toBe(200);
    expect(await (await fetch(`${chat.base}/metrics`)).text()).toContain('livehub_connections');
    const peer = await Peer.open(`${chat.ws}?for=status`);
    expect(await trySubscribe(peer, 'livehub-status')).toBe('subscribed');
    peer.close();
  });

  it('opens them with the status key (query, header or bearer token) and answers a missing or wrong key with 401', async () => {
    const chat = await chats.start({ statusKey: KEY, development: true });
    expect(chat.operations).toMatch(/need the status key.*\/status\?key=<key>.*Authorization: Bearer <key>/);
    for (const path of ['/status', '/metrics']) {
      for (const headers of [{}, { 'X-Livehub-Status-Key': 'wrong-key-1' }, { Authorization: 'Bearer wrong-key-1' }] as Array<Record<string, string>>) {
        const res = await fetch(`${chat.base}${path}`, { headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(await res.json()).toMatchObject({ error: { code: 'unauthorized', message: expect.stringContaining('status key') } });
      }
      expect((await fetch(`${chat.base}${path}?key=${KEY}`)).status, path).toBe(200);
      expect((await fetch(`${chat.base}${path}`, { headers: { 'X-Livehub-Status-Key': KEY } })).status, path).toBe(200);
      expect((await fetch(`${chat.base}${path}`, { headers: { Authorization: `Bearer ${KEY}` } })).status, path).toBe(200);
    }
    // The keyed page listens on a channel named after the key; the keyless one stays shut.
    const peer = await Peer.open(`${chat.ws}?for=status`);
    expect(await trySubscribe(peer, statusChannel(KEY))).toBe('subscribed');
    expect(await trySubscribe(peer, 'livehub-status')).toBe('forbidden');
    peer.close();
  });

  it('in JWT mode without a key, opens them to logged-in users of its own pages only', async () => {
    const chat = await chats.start({ auth: 'jwt', secret: SECRET, development: false });
    expect(chat.operations).toMatch(/open to logged-in users/);
    const cookie = await login(chat.base, 'zoe');
    for (const path of ['/status', '/metrics']) {
      const anonymous = await fetch(`${chat.base}${path}`);
      expect(anonymous.status, path).toBe(401);
      expect(await anonymous.json()).toMatchObject({ error: { code: 'unauthorized', message: expect.stringContaining('log in') } });
      const crossSite = await fetch(`${chat.base}${path}`, { headers: { Cookie: cookie, 'Sec-Fetch-Site': 'cross-site' } });
      expect(crossSite.status, path).toBe(403);
      expect((await fetch(`${chat.base}${path}`, { headers: { Cookie: cookie, 'Sec-Fetch-Site': 'same-origin' } })).status, path).toBe(200);
    }
    // The status socket of a logged-in user watches; one without a login connects but may not.
    const user = await Peer.open(`${chat.ws}?for=status`, { headers: { Cookie: cookie } });
    expect(await trySubscribe(user, 'livehub-status')).toBe('subscribed');
    const stranger = await Peer.open(`${chat.ws}?for=status`);
    expect(await trySubscribe(stranger, 'livehub-status')).toBe('forbidden');
    user.close();
    stranger.close();
  });

  it('in JWT mode with a key, lets the page\'s socket watch the keyed channel without a login, and nothing else', async () => {
    const chat = await chats.start({ auth: 'jwt', secret: SECRET, statusKey: KEY });
    // Only the status page's socket may come without a login.
    await expect(Peer.open(chat.ws)).rejects.toThrow('HTTP 401');
    const page = await Peer.open(`${chat.ws}?for=status`);
    expect(await trySubscribe(page, statusChannel(KEY))).toBe('subscribed');
    for (const channel of ['private-chat', 'presence-chat', 'typing:chat', 'livehub-status']) {
      expect(await trySubscribe(page, channel), channel).toBe('forbidden');
    }
    page.send({ type: 'chat:send', data: { body: 'hi' }, id: 'send' });
    expect(await page.next((m) => m.id === 'send')).toMatchObject({ type: 'error', code: 'unauthorized' });
    page.close();
  });
});
