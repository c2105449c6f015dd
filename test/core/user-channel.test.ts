import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { isValidChannel, userChannel } from '../../pkg/protocol/index.js';
import { Peer, perTest, sentinel } from '../helpers.js';

const hubs = perTest();

/** Authenticates each connection as the user named in its `user` query parameter. */
const byQuery = (request: IncomingMessage) => ({ userId: new URL(request.url ?? '/', 'http://hub').searchParams.get('user')! });
const as = (url: string, userId: string) => Peer.open(`${url}?user=${encodeURIComponent(userId)}`);

describe('userChannel', () => {
  it('keeps ids of channel-name characters as they are and escapes every other character as ~ and the hex of its UTF-8 bytes', () => {
    expect(userChannel('alice')).toBe('user:alice');
    expect(userChannel('auth0|5f2a@example.com')).toBe('user:auth0~7C5f2a@example.com');
    expect(userChannel('José')).toBe('user:Jos~C3~A9');
    expect(userChannel('ann smith')).toBe('user:ann~20smith');
    expect(userChannel('😀')).toBe('user:~F0~9F~98~80');
  });

  it('gives distinct ids distinct valid channels, ~ included', () => {
    const ids = ['a~b', 'a~7Eb', 'a b', 'a~20b', 'José', 'Jos~C3~A9', 'a"b', "a'b", 'a\nb', '名前', ''];
    const channels = ids.filter((id) => id !== '').map(userChannel);
    expect(new Set(channels).size).toBe(channels.length);
    for (const channel of channels) expect(isValidChannel(channel)).toBe(true);
  });
});

describe('personal channels of user ids of any characters', () => {
  it('puts a user whose id has spaces, accents, quotes or emoji in their channel, and sendToUser reaches them and nobody else', async () => {
    const { hub, url } = await hubs.start({ authenticate: byQuery });
    const ids = ['José Müller', 'ann smith', 'a"b', '名前😀'];
    const peers = await Promise.all(ids.map((id) => as(url, id)));
    const other = await as(url, 'bob');
    for (const [i, id] of ids.entries()) await hub.sendToUser(id, 'note', i);
    for (const [i, id] of ids.entries()) {
      expect(await peers[i]!.next((m) => m.type === 'note')).toMatchObject({ channel: userChannel(id), data: i });
    }
    await hub.sendToUsers(ids, 'all', 'x');
    for (const peer of peers) expect(await peer.next((m) => m.type === 'all')).toMatchObject({ data: 'x' });
    // Only the user may subscribe to their channel: bob is refused ann smith's.
    other.send({ type: 'subscribe', channel: userChannel('ann smith'), id: 'peek' });
    expect(await other.next((m) => m.type === 'error')).toMatchObject({ code: 'forbidden', id: 'peek' });
    await sentinel(hub, userChannel('bob'), [other]);
    expect(other.messages.filter((m) => m.type === 'note' || m.type === 'all')).toEqual([]);
  });

  it('refuses at authenticate a user id too long for its personal channel, logging why and what to change', async () => {
    const { url, logs } = await hubs.start({ authenticate: byQuery }, { record: true });
    await expect(as(url, '😀'.repeat(30))).rejects.toThrow('HTTP 500');
    expect(logs).toContainEqual(expect.objectContaining({ level: 'error', code: 'bad_identity', message: expect.stringContaining('too long for its personal channel') }));
    const fits = await as(url, '😀'.repeat(20));
    fits.close();
  });

  it('answers a subscribe to the connection\'s own personal channel like a first one (position, replay from since), and delivers later messages once', async () => {
    const { hub, url } = await hubs.start({ authenticate: byQuery });
    const channel = userChannel('José');
    await hub.sendToUser('José', 'note', 1);
    await hub.sendToUser('José', 'note', 2);
    const page = await as(url, 'José');
    page.send({ type: 'subscribe', channel, id: 'mine' });
    expect(await page.next((m) => m.id === 'mine')).toEqual({ type: 'subscribed', channel, id: 'mine', offset: 2, epoch: expect.any(String), personal: true });
    const { epoch } = (await hub.history(channel)).position;
    page.send({ type: 'subscribe', channel, id: 'again', since: { offset: 1, epoch } });
    expect(await page.next((m) => m.id === 'again')).toMatchObject({ type: 'subscribed', channel, recovered: true, offset: 2 });
    expect(await page.next((m) => m.type === 'note')).toMatchObject({ channel, data: 2, offset: 2 });
    await hub.sendToUser('José', 'note', 3);
    await sentinel(hub, channel, [page]);
    expect(page.messages.filter((m) => m.type === 'note').map((m) => m.data)).toEqual([3]);
    // Still one subscription, not two.
    expect(hub.channelList()).toContainEqual({ channel, subscribers: 1 });
  });
});
