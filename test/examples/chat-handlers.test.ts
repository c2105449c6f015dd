import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { Peer, sentinel } from '../helpers.js';
import { chatServers, post } from './chat.js';

const chats = chatServers();

describe('the example chat, through handlers, SSE and the HTTP API', () => {
  it('answers a raw {"type":"whoami","id":I} with {"type":"reply","id":I,"data":{…}}', async () => {
    const chat = await chats.start({});
    const peer = await Peer.open(chat.ws, { protocols: [] });
    peer.send('{"type":"whoami","id":7}');
    expect(await peer.next((m) => m.id === 7)).toEqual({ type: 'reply', id: 7, data: { connection: expect.any(String), user: null, transport: 'websocket' } });
    peer.close();
  });

  it('posts a message through the chat:send handler, stamped with the declared name, answered with its position', async () => {
    const chat = await chats.start({});
    const reader = await Peer.open(chat.ws);
    await reader.subscribe('chat');
    const writer = await Peer.open(`${chat.ws}?name=ann`);
    writer.send({ type: 'chat:send', data: { body: 'hello' }, id: 1 });
    const reply = await writer.next((m) => m.id === 1);
    expect(reply).toMatchObject({ type: 'reply', data: { offset: 1 } });
    expect(await reader.next((m) => m.channel === 'chat' && m.type === 'message')).toMatchObject({ data: { author: 'ann', body: 'hello', id: reply.data.id } });
    writer.send({ type: 'chat:send', data: { body: '' }, id: 2 });
    expect(await writer.next((m) => m.id === 2)).toMatchObject({ type: 'error', code: 'invalid_message' });
    const nameless = await Peer.open(chat.ws);
    nameless.send({ type: 'chat:send', data: { body: 'x' }, id: 3 });
    expect(await nameless.next((m) => m.id === 3)).toMatchObject({ type: 'error', code: 'invalid_name' });
    for (const p of [reader, writer, nameless]) p.close();
  });

  it('answers a malformed chat message with invalid_message from middleware, before authorize decides who may publish', async () => {
    const chat = await chats.start({});
    const peer = await Peer.open(`${chat.ws}?name=ann`);
    peer.send({ type: 'publish', channel: 'chat', event: 'message', data: { id: 'message-x1', body: '' }, id: 1 });
    expect(await peer.next((m) => m.id === 1)).toMatchObject({ type: 'error', code: 'invalid_message', channel: 'chat' });
    peer.send({ type: 'publish', channel: 'chat', event: 'message', data: { id: 'message-x2', body: 'hi', author: 'bob' }, id: 2 });
    expect(await peer.next((m) => m.id === 2)).toMatchObject({ type: 'error', code: 'forbidden' });
    peer.send({ type: 'publish', channel: 'chat', event: 'message', data: { id: 'message-x3', body: 'hi', author: 'ann' }, id: 3 });
    expect(await peer.next((m) => m.id === 3)).toMatchObject({ type: 'ack' });
    peer.close();
  });

  it('tells everyone but the typist that someone types', async () => {
    const chat = await chats.start({});
    const typist = await Peer.open(`${chat.ws}?name=ann`);
    const other = await Peer.open(`${chat.ws}?name=bob`);
    for (const p of [typist, other]) await p.subscribe('typing:chat');
    typist.send({ type: 'chat:typing', data: true, id: 't' });
    await typist.next((m) => m.id === 't');
    expect(await other.next((m) => m.channel === 'typing:chat' && m.type === 'typing_start')).toMatchObject({ from: { client: expect.any(String), echo: false } });
    await sentinel(chat.hub, 'typing:chat', [typist, other]);
    expect(typist.messages.filter((m) => m.channel === 'typing:chat' && 'data' in m)).toEqual([]);
    typist.close();
    other.close();
  });

  it('streams the chat over SSE at GET /events?channel=chat, and takes POST /api/publish with the key', async () => {
    const chat = await chats.start({ apiKey: 'a-test-key-of-sixteen-chars' });
    const source = new EventSource(`${chat.base}/events?channel=chat`);
    const got: any[] = [];
    source.addEventListener('message', (e) => got.push(JSON.parse(e.data)));
    source.addEventListener('livehub', (e) => got.push(JSON.parse(e.data)));
    try {
      await expect.poll(() => got.some((m) => m.type === 'subscribed')).toBe(true);
      const refused = await post(`${chat.base}/api/publish`, { channel: 'chat', type: 'message', data: { id: 'm1', body: 'hi', author: 'bot' } });
      expect(refused.status).toBe(401);
      const ok = await post(`${chat.base}/api/publish`, { channel: 'chat', type: 'message', data: { id: 'm1', body: 'hi', author: 'bot' } }, { 'X-API-Key': 'a-test-key-of-sixteen-chars' });
      expect(ok.status).toBe(200);
      await expect.poll(() => got.find((m) => m.channel === 'chat' && m.type === 'message')?.data).toEqual({ id: 'm1', body: 'hi', author: 'bot' });
    } finally {
      source.close();
    }
  });

  it('serves /metrics, /health/live, /health/ready and the status page in development', async () => {
    const chat = await chats.start({ development: true });
    const peer = await Peer.open(chat.ws);
    await peer.subscribe('chat');
    const metrics = await (await fetch(`${chat.base}/metrics`)).text();
    expect(metrics).toMatch(/^livehub_connections\{transport="websocket"\} 1$/m);
    expect((await fetch(`${chat.base}/health/live`)).status).toBe(200);
    expect((await fetch(`${chat.base}/health/ready`)).status).toBe(200);
    const status = await fetch(`${chat.base}/status`);
    expect(status.status).toBe(200);
    expect(status.headers.get('content-type')).toContain('text/html');
    await chat.hub.drain({ spread: 0 });
    expect((await fetch(`${chat.base}/health/ready`)).status).toBe(503);
    peer.close();
  });
});
