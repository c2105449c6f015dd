import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { toChatMessage } from '../../examples/chat/messages.js';
import { fileTokenVersions, redisTokenVersions } from '../../examples/chat/token-versions.js';
import { RedisEngine } from '../../pkg/engine/redis-index.js';
import { Peer } from '../helpers.js';
import { sharedRedisUrl, startRedis } from '../redis.js';
import { chatServers, pageProps, post } from './chat.js';

const chats = chatServers();
const SECRET = 'example-secret-that-is-long-enough-32b';

async function login(base: string, name: string): Promise<string> {
  const res = await post(`${base}/login`, { name });
  expect(res.status).toBe(204);
  expect(res.headers.get('set-cookie')).toMatch(/HttpOnly/i);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

describe('the example chat in JWT mode', () => {
  it('requires a login for the WebSocket, then delivers the private channel with the author from the token', async () => {
    const chat = await chats.start({ auth: 'jwt', secret: SECRET });
    await expect(Peer.open(chat.ws)).rejects.toThrow('HTTP 401');
    const anonymous = await post(`${chat.base}/messages`, { author: 'x', body: 'anon' });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: 'unauthorized' } });

    const cookie = await login(chat.base, 'zoe');
    const reader = await Peer.open(chat.ws, { headers: { Cookie: cookie } });
    reader.send({ type: 'subscribe', channel: 'chat', id: 'public' });
    expect(await reader.next((m) => m.type === 'error')).toMatchObject({ code: 'forbidden', id: 'public' });
    await reader.subscribe('private-chat');
    const res = await post(`${chat.base}/messages`, { author: 'someone-else', body: 'secret' }, { Cookie: cookie });
    expect(res.status).toBe(201);
    expect((await reader.next((m) => m.channel === 'private-chat')).data).toMatchObject({ author: 'zoe', body: 'secret' });

    const props = await pageProps(chat.base, { Cookie: cookie });
    expect(props).toMatchObject({ user: 'zoe', channel: 'private-chat' });
    expect(props.messages).toEqual([expect.objectContaining({ author: 'zoe', body: 'secret' })]);
    reader.close();
  });

  it('refuses a token signed with its secret but issued by, or for, another app', async () => {
    const chat = await chats.start({ auth: 'jwt', secret: SECRET });
    const key = new TextEncoder().encode(SECRET);
    const token = (issuer: string, audience: string) => new SignJWT({ ver: 0 }).setProtectedHeader({ alg: 'HS256' }).setSubject('zoe')
      .setIssuer(issuer).setAudience(audience).setIssuedAt().setExpirationTime('1h').sign(key);
    for (const [issuer, audience] of [['another-app', 'livehub-chat'], ['livehub-chat', 'another-app']] as const) {
      const cookie = `livehub_token=${await token(issuer, audience)}`;
      await expect(Peer.open(chat.ws, { headers: { Cookie: cookie } }), `${issuer} for ${audience}`).rejects.toThrow('HTTP 401');
      expect((await post(`${chat.base}/messages`, { author: 'zoe', body: 'x' }, { Cookie: cookie })).status).toBe(401);
    }
    // The chat's own login mints a token that passes.
    const peer = await Peer.open(chat.ws, { headers: { Cookie: await login(chat.base, 'zoe') } });
    peer.close();
  });

  it('shows a logged-out visitor neither the private messages nor their position', async () => {
    const chat = await chats.start({ auth: 'jwt', secret: SECRET });
    const cookie = await login(chat.base, 'zoe');
    expect((await post(`${chat.base}/messages`, { body: 'for members only' }, { Cookie: cookie })).status).toBe(201);
    const props = await pageProps(chat.base);
    expect(props).toMatchObject({ user: null, position: null, messages: [] });
    const list = await fetch(`${chat.base}/messages`);
    expect(list.status).toBe(401);
    expect(await list.text()).not.toContain('for members only');
  });

  it('refuses a name outside the channel-name characters with 400, and gives a valid one a working personal channel', async () => {
    const chat = await chats.start({ auth: 'jwt', secret: SECRET });
    for (const name of ['zoe smith', 'a:b', 'x/y', '', 'é', 'z'.repeat(41), 42]) {
      const res = await post(`${chat.base}/login`, { name });
      expect(res.status, String(name)).toBe(400);
      expect((await res.json()).error).toMatchObject({ code: 'invalid_name', message: expect.stringContaining('1-40 letters') });
    }
    const cookie = await login(chat.base, 'zoe.smith-2');
    const zoe = await Peer.open(chat.ws, { headers: { Cookie: cookie } });
    await expect.poll(() => chat.hub.isUserConnected('zoe.smith-2')).toBe(true);
    chat.hub.sendToUser('zoe.smith-2', 'note', { hello: true });
    expect(await zoe.next((m) => m.channel === 'user:zoe.smith-2')).toMatchObject({ type: 'note', data: { hello: true } });
    zoe.close();
  });

  it('revokes on logout: the old token opens no socket and posts nothing, and the open sockets are closed', async () => {
    const chat = await chats.start({ auth: 'jwt', secret: SECRET });
    const cookie = await login(chat.base, 'zoe');
    const [tab1, tab2] = await Promise.all([Peer.open(chat.ws, { headers: { Cookie: cookie } }), Peer.open(chat.ws, { headers: { Cookie: cookie } })]);
    const other = await Peer.open(chat.ws, { headers: { Cookie: await login(chat.base, 'yan') } });

    expect((await post(`${chat.base}/logout`, {}, { Cookie: cookie })).status).toBe(204);
    expect((await tab1.whenClosed()).code).toBe(4503);
    expect((await tab2.whenClosed()).code).toBe(4503);
    // The old cookie, replayed: refused everywhere.
    await expect(Peer.open(chat.ws, { headers: { Cookie: cookie } })).rejects.toThrow('HTTP 401');
    expect((await post(`${chat.base}/messages`, { body: 'ghost' }, { Cookie: cookie })).status).toBe(401);
    expect((await fetch(`${chat.base}/messages`, { headers: { Cookie: cookie } })).status).toBe(401);
    expect(await pageProps(chat.base, { Cookie: cookie })).toMatchObject({ user: null, position: null });
    // Other users stay; a new login of the same user works.
    other.send({ type: 'ping', id: 'still-here' });
    expect(await other.next((m) => m.type === 'pong')).toMatchObject({ id: 'still-here' });
    const again = await Peer.open(chat.ws, { headers: { Cookie: await login(chat.base, 'zoe') } });
    again.close();
    other.close();
  });

  it('never lets a client publish under another name: the author and the typist are the stamped user', async () => {
    const chat = await chats.start({ auth: 'jwt', secret: SECRET });
    const alice = await Peer.open(chat.ws, { headers: { Cookie: await login(chat.base, 'alice') } });
    const bob = await Peer.open(chat.ws, { headers: { Cookie: await login(chat.base, 'bob') } });
    await bob.subscribe('private-chat');
    await bob.subscribe('typing:chat');

    alice.send({ type: 'publish', channel: 'private-chat', event: 'message', data: { id: 'forged-01', author: 'bob', body: 'I am bob' }, id: 1 });
    expect(await alice.next((m) => m.id === 1)).toMatchObject({ type: 'error', code: 'forbidden' });
    alice.send({ type: 'publish', channel: 'private-chat', event: 'message', data: { id: 'honest-01', body: 'hi bob' }, id: 2 });
    expect(await alice.next((m) => m.id === 2)).toMatchObject({ type: 'ack' });
    const message = await bob.next((m) => m.channel === 'private-chat');
    expect(message.from).toMatchObject({ user: 'alice' });
    expect(toChatMessage(message)).toMatchObject({ author: 'alice', body: 'hi bob' });

    // Typing goes through the chat:typing handler: a page cannot publish it, let alone as someone else.
    alice.send({ type: 'publish', channel: 'typing:chat', event: 'typing_start', data: { name: 'bob' }, id: 3 });
    expect(await alice.next((m) => m.id === 3)).toMatchObject({ type: 'error', code: 'forbidden' });
    alice.send({ type: 'chat:typing', data: true, id: 4 });
    await alice.next((m) => m.id === 4);
    expect((await bob.next((m) => m.channel === 'typing:chat' && m.type === 'typing_start')).from).toMatchObject({ user: 'alice', echo: false });

    const { messages } = await (await fetch(`${chat.base}/messages`, { headers: { Cookie: await login(chat.base, 'bob') } })).json();
    expect(messages).toEqual([expect.objectContaining({ author: 'alice', body: 'hi bob' })]);
    alice.close();
    bob.close();
  });

  it('revokes a logout on every node sharing Redis and after a restart: the old cookie reads nothing and opens no socket on the other node or on the restarted one', async () => {
    const url = await sharedRedisUrl();
    const prefix = `chat-revoke-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    const node = () => chats.start({
      auth: 'jwt', secret: SECRET,
      hub: { engine: new RedisEngine({ url, prefix }), logger: false },
      tokenVersions: redisTokenVersions({ url, prefix: `${prefix}-chat` }),
    });
    const [a, b] = await Promise.all([node(), node()]);
    const cookie = await login(a.base, 'zoe');
    // Before the logout the cookie works on both nodes.
    expect((await fetch(`${b.base}/messages`, { headers: { Cookie: cookie } })).status).toBe(200);
    const onB = await Peer.open(b.ws, { headers: { Cookie: cookie } });

    expect((await post(`${a.base}/logout`, {}, { Cookie: cookie })).status).toBe(204);
    // The open page on the other node is closed, and the cookie is refused there.
    expect((await onB.whenClosed()).code).toBe(4503);
    const list = await fetch(`${b.base}/messages`, { headers: { Cookie: cookie } });
    expect(list.status).toBe(401);
    expect(await list.json()).toMatchObject({ error: { code: 'unauthorized' } });
    await expect(Peer.open(b.ws, { headers: { Cookie: cookie } })).rejects.toThrow('HTTP 401');
    expect((await post(`${b.base}/messages`, { body: 'ghost' }, { Cookie: cookie })).status).toBe(401);

    // The node where it logged out restarts: still refused there.
    await a.stop();
    const restarted = await node();
    expect((await fetch(`${restarted.base}/messages`, { headers: { Cookie: cookie } })).status).toBe(401);
    await expect(Peer.open(restarted.ws, { headers: { Cookie: cookie } })).rejects.toThrow('HTTP 401');
    // A new login works on every node.
    const again = await login(restarted.base, 'zoe');
    expect((await fetch(`${b.base}/messages`, { headers: { Cookie: again } })).status).toBe(200);
    (await Peer.open(b.ws, { headers: { Cookie: again } })).close();
  }, 30_000);

  it('keeps logouts in its file on one node: the old cookie is still refused after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-tokens-'));
    chats.cleanup(async () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'token-versions.json');
    const first = await chats.start({ auth: 'jwt', secret: SECRET, tokenVersions: fileTokenVersions(file) });
    const cookie = await login(first.base, 'zoe');
    expect((await post(`${first.base}/logout`, {}, { Cookie: cookie })).status).toBe(204);
    await first.stop();

    const second = await chats.start({ auth: 'jwt', secret: SECRET, tokenVersions: fileTokenVersions(file) });
    expect((await fetch(`${second.base}/messages`, { headers: { Cookie: cookie } })).status).toBe(401);
    await expect(Peer.open(second.ws, { headers: { Cookie: cookie } })).rejects.toThrow('HTTP 401');
    const again = await login(second.base, 'zoe');
    expect((await fetch(`${second.base}/messages`, { headers: { Cookie: again } })).status).toBe(200);
  });

  it('refuses a RedisEngine in JWT mode without a shared token store, with a TypeError saying what to pass', async () => {
    const engine = new RedisEngine({ url: await sharedRedisUrl(), prefix: `chat-typeerror-${Date.now().toString(36)}` });
    chats.cleanup(() => engine.close());
    await expect(chats.start({ auth: 'jwt', secret: SECRET, hub: { engine } })).rejects.toThrow(/tokenVersions/);
  });

  it('answers 503 while its token store does not answer, instead of letting a token through unchecked', async () => {
    const redis = await startRedis();
    chats.cleanup(async () => { redis.signal('SIGCONT'); await redis.stop(); });
    const chat = await chats.start({
      auth: 'jwt', secret: SECRET, hub: { logger: false },
      tokenVersions: redisTokenVersions({ url: redis.url, commandTimeout: 300 }),
    });
    const cookie = await login(chat.base, 'zoe');
    redis.signal('SIGSTOP');
    const list = await fetch(`${chat.base}/messages`, { headers: { Cookie: cookie } });
    expect(list.status).toBe(503);
    expect(list.headers.get('retry-after')).toBe('2');
    expect(await list.json()).toMatchObject({ error: { code: 'unavailable', message: expect.stringContaining('retry') } });
    await expect(Peer.open(chat.ws, { headers: { Cookie: cookie } })).rejects.toThrow('HTTP 503');
    redis.signal('SIGCONT');
    await expect.poll(async () => (await fetch(`${chat.base}/messages`, { headers: { Cookie: cookie } })).status, { timeout: 10_000 }).toBe(200);
  }, 30_000);
});
