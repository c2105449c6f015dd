import { describe, expect, it } from 'vitest';
import { Peer, sentinel } from '../../helpers.js';
import { cleanup, startApi } from './fixture.js';

/** Every endpoint of the HTTP API, with real WebSocket subscribers. */

async function subscriber(url: string, ...channels: string[]): Promise<Peer> {
  const peer = await Peer.open(url);
  cleanup(() => peer.close());
  for (const channel of channels) await peer.subscribe(channel);
  return peer;
}

/** Messages (not replies) the peer has received on `channel`. */
const delivered = (peer: Peer, channel: string) => peer.messages.filter((m) => m.channel === channel && m.type !== 'subscribed');

describe('POST /publish', () => {
  it('delivers the message to the channel\'s subscribers and answers its position', async () => {
    const api = await startApi();
    const peer = await subscriber(api.ws, 'news');
    const answer = await api.call('POST', '/publish', { channel: 'news', type: 'headline', data: { title: 'Hello' } });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(answer.body).toEqual({ channel: 'news', offset: 1, epoch: expect.any(String) });
    expect(await peer.next((m) => m.channel === 'news')).toMatchObject({ channel: 'news', type: 'headline', data: { title: 'Hello' }, offset: 1 });
  });

  it('with exceptClient, reaches every subscriber but that connection', async () => {
    const api = await startApi({ hub: { canPublish: () => true } });
    const sender = await subscriber(api.ws, 'room');
    const other = await subscriber(api.ws, 'room');
    sender.send({ type: 'publish', channel: 'room', event: 'hello', data: 'who am i', id: 'w' });
    const id = (await other.next((m) => m.channel === 'room' && m.type === 'hello')).from.client as string;
    expect((await api.call('POST', '/publish', { channel: 'room', type: 'note', data: 1, exceptClient: id })).status).toBe(200);
    await other.next((m) => m.channel === 'room' && m.type === 'note');
    await sentinel(api.hub, 'room', [sender]);
    expect(delivered(sender, 'room').filter((m) => m.type === 'note')).toEqual([]);
    expect((await api.call('POST', '/publish', { channel: 'room', type: 'note', exceptClient: '' })).status).toBe(400);
  });

  it('publishes null when data is left out', async () => {
    const api = await startApi();
    const peer = await subscriber(api.ws, 'news');
    expect((await api.call('POST', '/publish', { channel: 'news', type: 'ping' })).status).toBe(200);
    expect(await peer.next((m) => m.channel === 'news')).toMatchObject({ type: 'ping', data: null });
  });

  it('with an id, publishes once: a retry answers the first position with duplicate: true and delivers nothing', async () => {
    const api = await startApi();
    const peer = await subscriber(api.ws, 'orders');
    const message = { channel: 'orders', type: 'created', data: { n: 1 }, id: 'order-1' };
    const first = await api.call('POST', '/publish', message);
    const retry = await api.call('POST', '/publish', message);
    expect(first.body).toEqual({ channel: 'orders', offset: 1, epoch: expect.any(String) });
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ ...first.body, duplicate: true });
    await api.call('POST', '/publish', { channel: 'orders', type: 'marker' });
    await peer.next((m) => m.type === 'marker');
    expect(delivered(peer, 'orders').map((m) => m.type)).toEqual(['created']);
  });

  it('treats the same id on another channel as another message', async () => {
    const api = await startApi();
    const a = await api.call('POST', '/publish', { channel: 'a', type: 't', id: 'same' });
    const b = await api.call('POST', '/publish', { channel: 'b', type: 't', id: 'same' });
    expect(a.body.duplicate).toBeUndefined();
    expect(b.body).toEqual({ channel: 'b', offset: 1, epoch: expect.any(String) });
  });

  it('publishes to every client on channel "*"', async () => {
    const api = await startApi();
    const peer = await subscriber(api.ws);
    expect((await api.call('POST', '/publish', { channel: '*', type: 'announcement', data: 'hi' })).status).toBe(200);
    expect(await peer.next((m) => m.channel === '*')).toMatchObject({ type: 'announcement', data: 'hi' });
  });
});

describe('POST /broadcast', () => {
  it('publishes one message to each channel and answers each channel\'s position', async () => {
    const api = await startApi();
    const a = await subscriber(api.ws, 'a');
    const b = await subscriber(api.ws, 'b');
    const answer = await api.call('POST', '/broadcast', { channels: ['a', 'b'], type: 'alert', data: 1 });
    expect(answer.status).toBe(200);
    expect(answer.body.results).toEqual([
      { channel: 'a', offset: 1, epoch: expect.any(String) },
      { channel: 'b', offset: 1, epoch: expect.any(String) },
    ]);
    expect(await a.next((m) => m.channel === 'a')).toMatchObject({ type: 'alert', data: 1 });
    expect(await b.next((m) => m.channel === 'b')).toMatchObject({ type: 'alert', data: 1 });
  });

  it('with an id, a retry publishes nothing on any channel', async () => {
    const api = await startApi();
    const a = await subscriber(api.ws, 'a');
    const request = { channels: ['a', 'b'], type: 'alert', id: 'alert-7' };
    const first = await api.call('POST', '/broadcast', request);
    const retry = await api.call('POST', '/broadcast', request);
    expect(retry.body.results).toEqual(first.body.results.map((r: object) => ({ ...r, duplicate: true })));
    await api.call('POST', '/publish', { channel: 'a', type: 'marker' });
    await a.next((m) => m.type === 'marker');
    expect(delivered(a, 'a').map((m) => m.type)).toEqual(['alert']);
  });

  it('refuses an empty list, a repeated channel and an invalid one, naming the entry, and publishes nothing', async () => {
    const api = await startApi();
    const empty = await api.call('POST', '/broadcast', { channels: [], type: 't' });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toContain('channels is required');
    const repeated = await api.call('POST', '/broadcast', { channels: ['a', 'b', 'a'], type: 't' });
    expect(repeated.status).toBe(400);
    expect(repeated.body.error.message).toContain('channels[2] repeats "a"');
    const invalid = await api.call('POST', '/broadcast', { channels: ['a', 'no spaces'], type: 't' });
    expect(invalid.body.error).toMatchObject({ code: 'invalid_channel', message: expect.stringContaining('channels[1] "no spaces" is not a valid channel name') });
    expect((await api.call('GET', '/history?channel=a')).body.position.offset).toBe(0);
  });

  it('refuses more channels than maxBatch', async () => {
    const api = await startApi({ api: { maxBatch: 3 } });
    const answer = await api.call('POST', '/broadcast', { channels: ['a', 'b', 'c', 'd'], type: 't' });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toContain('at most 3 (maxBatch)');
  });
});

describe('GET /history', () => {
  it('answers the channel\'s last messages, oldest first, with its position', async () => {
    const api = await startApi();
    for (let i = 1; i <= 5; i++) await api.call('POST', '/publish', { channel: 'log', type: 'line', data: i });
    const answer = await api.call('GET', '/history?channel=log&limit=3');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ channel: 'log', position: { offset: 5, epoch: expect.any(String) }, complete: true });
    expect(answer.body.messages.map((m: { data: number; offset: number }) => [m.data, m.offset])).toEqual([[3, 3], [4, 4], [5, 5]]);
    const all = await api.call('GET', '/history?channel=log');
    expect(all.body.messages).toHaveLength(5);
    expect((await api.call('GET', '/history?channel=log&limit=0')).body.messages).toEqual([]);
  });

  it('refuses a bad limit, a missing channel and an unknown parameter, saying what is allowed', async () => {
    const api = await startApi();
    const limit = await api.call('GET', '/history?channel=log&limit=lots');
    expect(limit.status).toBe(400);
    expect(limit.body.error).toEqual({ code: 'bad_request', message: 'limit must be a whole number from 0 to 10000, got "lots"' });
    const missing = await api.call('GET', '/history');
    expect(missing.body.error).toMatchObject({ code: 'invalid_channel', message: expect.stringContaining('channel is required: 1-255 characters of A-Z') });
    const unknown = await api.call('GET', '/history?chanel=log');
    expect(unknown.body.error.message).toBe("unknown field 'chanel'; did you mean 'channel'?");
    const twice = await api.call('GET', '/history?channel=a&channel=b');
    expect(twice.body.error.message).toContain("'channel' is given 2 times");
  });
});

describe('GET /presence', () => {
  it('lists the members of a presence channel', async () => {
    const api = await startApi({
      hub: { authorize: () => true, authenticate: (req) => ({ userId: new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? 'nobody' }) },
    });
    await subscriber(`${api.ws}?user=ann`, 'presence-room');
    await subscriber(`${api.ws}?user=bob`, 'presence-room');
    const answer = await api.call('GET', '/presence?channel=presence-room');
    expect(answer.status).toBe(200);
    expect(answer.body.channel).toBe('presence-room');
    expect(answer.body.members.map((m: { userId: string }) => m.userId).sort()).toEqual(['ann', 'bob']);
    expect(answer.body.members[0]).toMatchObject({ status: 'online', connections: 1 });
  });

  it('refuses a channel that keeps no presence', async () => {
    const api = await startApi();
    const answer = await api.call('GET', '/presence?channel=chat');
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toContain('only channels named presence-');
  });
});

describe('GET /channels and GET /info', () => {
  it('lists this node\'s channels with their subscriber counts', async () => {
    const api = await startApi();
    await subscriber(api.ws, 'a', 'b');
    await subscriber(api.ws, 'a');
    const answer = await api.call('GET', '/channels');
    expect(answer.status).toBe(200);
    expect([...answer.body.channels].sort((x, y) => x.channel.localeCompare(y.channel))).toEqual([
      { channel: 'a', subscribers: 2 }, { channel: 'b', subscribers: 1 },
    ]);
  });

  it('describes the node: its connections by transport, channels and uptime', async () => {
    const api = await startApi();
    await subscriber(api.ws, 'a');
    const answer = await api.call('GET', '/info');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ node: expect.any(String), connections: { websocket: 1 }, uptime: expect.any(Number) });
  });
});

describe('POST /disconnect', () => {
  it('closes every connection of the user with 4503 and the reason, and no one else\'s', async () => {
    const api = await startApi({ hub: { authenticate: (req) => ({ userId: new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? 'nobody' }) } });
    const ann1 = await subscriber(`${api.ws}?user=ann`);
    const ann2 = await subscriber(`${api.ws}?user=ann`);
    const bob = await subscriber(`${api.ws}?user=bob`, 'a');
    const answer = await api.call('POST', '/disconnect', { userId: 'ann', reason: 'banned' });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ userId: 'ann' });
    expect(await ann1.whenClosed()).toEqual({ code: 4503, reason: 'banned' });
    expect((await ann2.whenClosed()).code).toBe(4503);
    await bob.sync(); // answered after the disconnect: bob's connection was left open
    expect(bob.closed).toBeNull();
  });

  it('refuses a missing userId and a reason that is not a string', async () => {
    const api = await startApi();
    expect((await api.call('POST', '/disconnect', {})).body.error).toEqual({ code: 'bad_request', message: 'userId is required: a non-empty string' });
    expect((await api.call('POST', '/disconnect', { userId: 'a', reason: 5 })).body.error.message).toBe('reason must be a string, got 5');
  });
});

describe('POST /batch', () => {
  it('runs the commands in order and answers each one\'s status and result; a failing one does not stop the rest', async () => {
    const api = await startApi();
    const peer = await subscriber(api.ws, 'feed');
    const answer = await api.call('POST', '/batch', {
      commands: [
        { method: 'publish', channel: 'feed', type: 'm', data: 1 },
        { method: 'publish', channel: 'bad channel', type: 'm' },
        { method: 'publish', channel: 'feed', type: 'm', data: 2, id: 'x' },
        { method: 'history', channel: 'feed', limit: 5 },
        { method: 'nope' },
        { method: 'channels' },
        { method: 'publish', channel: 'feed', type: 'm', data: 2, id: 'x' },
      ],
    });
    expect(answer.status).toBe(200);
    const { results } = answer.body;
    expect(results).toHaveLength(7);
    expect(results[0]).toEqual({ status: 200, result: { channel: 'feed', offset: 1, epoch: expect.any(String) } });
    expect(results[1]).toMatchObject({ status: 400, error: { code: 'invalid_channel', message: expect.stringContaining('commands[1].channel "bad channel"') } });
    expect(results[2].result.offset).toBe(2);
    expect(results[3].result.messages.map((m: { data: number }) => m.data)).toEqual([1, 2]);
    expect(results[4]).toMatchObject({ status: 400, error: { message: expect.stringContaining('commands[4].method must be one of publish, broadcast') } });
    expect(results[5].result.channels).toEqual([{ channel: 'feed', subscribers: 1 }]);
    expect(results[6]).toEqual({ status: 200, result: { ...results[2].result, duplicate: true } });
    await expect.poll(() => delivered(peer, 'feed').map((m) => m.data)).toEqual([1, 2]);
    await api.call('POST', '/publish', { channel: 'feed', type: 'marker' });
    await expect.poll(() => delivered(peer, 'feed').map((m) => m.type)).toEqual(['m', 'm', 'marker']);
  });

  it('refuses a batch without commands, or with more than maxBatch', async () => {
    const api = await startApi({ api: { maxBatch: 2 } });
    expect((await api.call('POST', '/batch', { commands: [] })).body.error.message).toContain('commands is required');
    const many = await api.call('POST', '/batch', { commands: [{ method: 'info' }, { method: 'info' }, { method: 'info' }] });
    expect(many.status).toBe(400);
    expect(many.body.error.message).toBe('commands has 3 entries; at most 2 (maxBatch)');
  });
});

describe('mounting', () => {
  it('serves on its own, as the request handler of http.createServer', async () => {
    const api = await startApi({ mount: 'standalone' });
    const peer = await subscriber(api.ws, 'solo');
    expect((await api.call('POST', '/publish', { channel: 'solo', type: 't' })).status).toBe(200);
    await peer.next((m) => m.channel === 'solo');
    expect((await api.call('GET', '/info')).status).toBe(200);
    expect((await api.call('GET', '/api/info')).status).toBe(404);
  });

  it('takes a body that express.json() mounted before it already parsed', async () => {
    const { default: express } = await import('express');
    const api = await startApi({ before: [express.json()] });
    const peer = await subscriber(api.ws, 'parsed');
    expect((await api.call('POST', '/publish', { channel: 'parsed', type: 't', data: 'x' })).status).toBe(200);
    expect(await peer.next((m) => m.channel === 'parsed')).toMatchObject({ data: 'x' });
    expect((await api.call('POST', '/publish', { chanel: 'parsed', type: 't' })).status).toBe(400);
  });

  it('accepts a trailing slash and ignores a query string on a POST', async () => {
    const api = await startApi();
    expect((await api.call('POST', '/publish/?x=1', { channel: 'a', type: 't' })).status).toBe(200);
  });
});
