import { describe, expect, it } from 'vitest';
import { mentionsIn, NotificationList } from '../../examples/chat/notification-items.js';
import { Peer } from '../helpers.js';
import { chatServers, post } from './chat.js';

const chats = chatServers();
const SECRET = 'example-secret-that-is-long-enough-32b';

async function login(base: string, name: string): Promise<string> {
  const res = await post(`${base}/login`, { name });
  expect(res.status).toBe(204);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

const notifications = async (base: string, cookie: string) => {
  const res = await fetch(`${base}/notifications`, { headers: { Cookie: cookie } });
  return { status: res.status, body: await res.json() as { messages: Array<{ type: string; data: unknown; offset: number }>; acknowledged: number; unread: number; error?: { code: string } } };
};

describe('mentions', () => {
  it('finds each @name once, at a word start, and nothing in an e-mail address', () => {
    expect(mentionsIn('@ann and @bob, again @ann; mail x@ann.example (@cy_2)')).toEqual(['ann', 'bob', 'cy_2']);
    expect(mentionsIn('no mention')).toEqual([]);
  });

  it('lists notifications newest first without the deleted ones, each once', () => {
    const list = new NotificationList();
    for (const message of [
      { type: 'notification', data: { from: 'bob', body: 'one' }, offset: 1 },
      { type: 'notification', data: { from: 'cy', body: 'two' }, offset: 2 },
      { type: 'notification_deleted', data: { offset: 1 }, offset: 3 },
      { type: 'notification', data: { from: 'cy', body: 'two' }, offset: 2 },
      { type: 'notification', data: { from: 'dee' }, offset: 4 },
    ]) list.apply(message);
    expect(list.shown()).toEqual([{ offset: 2, from: 'cy', body: 'two' }]);
  });
});

describe('the example chat\'s notifications', () => {
  it('notifies a mentioned user once per message (not its author), and counts it unread until read', async () => {
    const chat = await chats.start({ auth: 'jwt', secret: SECRET });
    const [ann, bob] = [await login(chat.base, 'ann'), await login(chat.base, 'bob')];
    const device = await Peer.open(chat.ws, { headers: { Cookie: ann } });
    for (const body of ['@ann hi', 'plain', '@bob talking to myself']) expect((await post(`${chat.base}/messages`, { body, id: `msg-${body.length}-abcdefgh` }, { Cookie: bob })).status).toBe(201);
    // The same message again (same id): no second notification.
    expect((await post(`${chat.base}/messages`, { body: '@ann hi', id: 'msg-7-abcdefgh' }, { Cookie: bob })).status).toBe(201);
    expect(await device.next((m) => m.type === 'notification')).toMatchObject({ channel: 'user:ann', data: { from: 'bob', body: '@ann hi' }, offset: 1 });
    // A sentinel: mentions are published in order, so once it is in, a duplicate would be too.
    await post(`${chat.base}/messages`, { body: '@ann sentinel' }, { Cookie: bob });
    await device.next((m) => m.type === 'notification' && m.data.body === '@ann sentinel');
    const { status, body } = await notifications(chat.base, ann);
    expect(status).toBe(200);
    expect(body).toMatchObject({ acknowledged: 0, unread: 2 });
    expect(body.messages.map((m) => [m.type, m.offset, (m.data as { body: string }).body])).toEqual([['notification', 1, '@ann hi'], ['notification', 2, '@ann sentinel']]);
    expect((await notifications(chat.base, bob)).body.unread).toBe(0);
    expect((await fetch(`${chat.base}/notifications`)).status).toBe(401);
  });

  it('deletes a notification for every device (notification_deleted on the stream) and reads the stream up to the deletion; refuses a bad offset', async () => {
    const chat = await chats.start({ auth: 'jwt', secret: SECRET });
    const [ann, bob] = [await login(chat.base, 'ann'), await login(chat.base, 'bob')];
    const phone = await Peer.open(chat.ws, { headers: { Cookie: ann } });
    const laptop = await Peer.open(chat.ws, { headers: { Cookie: ann } });
    await post(`${chat.base}/messages`, { body: '@ann one' }, { Cookie: bob });
    await post(`${chat.base}/messages`, { body: '@ann two' }, { Cookie: bob });
    await laptop.next((m) => m.type === 'notification' && m.offset === 2);
    phone.send({ type: 'notification:delete', data: { offset: 1 }, id: 'd' });
    expect(await phone.next((m) => m.id === 'd')).toEqual({ type: 'reply', id: 'd', data: { offset: 3, unread: 0 } });
    expect(await laptop.next((m) => m.type === 'notification_deleted')).toMatchObject({ data: { offset: 1 }, offset: 3 });
    expect(await laptop.next((m) => m.type === 'unread')).toMatchObject({ acknowledged: 3, unread: 0 });
    phone.send({ type: 'notification:delete', data: { offset: 'x' }, id: 'bad' });
    expect(await phone.next((m) => m.id === 'bad')).toMatchObject({ type: 'error', code: 'invalid_notification' });
    const list = new NotificationList();
    for (const message of (await notifications(chat.base, ann)).body.messages) list.apply(message);
    expect(list.shown().map((item) => item.body)).toEqual(['@ann two']);
  });
});
