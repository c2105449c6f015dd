import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { Peer, perTest } from '../helpers.js';

const { cleanup, start } = perTest();

async function peer(url: string): Promise<Peer> {
  const p = await Peer.open(url);
  cleanup(() => p.close());
  return p;
}

describe('pattern subscriptions over WebSocket', () => {
  it('delivers messages of every channel a pattern matches, each with its own channel, and none of the others', async () => {
    const { hub, url } = await start({ logger: false });
    const p = await peer(url);
    p.send({ type: 'subscribe', pattern: 'sensors/+/temp', id: 1 });
    expect(await p.next((m) => m.id === 1)).toEqual({ type: 'subscribed', pattern: 'sensors/+/temp', id: 1 });
    await hub.publish('sensors/kitchen/temp', 'reading', { c: 21 });
    await hub.publish('sensors/kitchen/humidity', 'reading', { h: 40 });
    await hub.publish('sensors/kitchen/temp/raw', 'reading', { c: 0 });
    await hub.publish('sensors/hall/temp', 'reading', { c: 19 });
    await hub.publish('sensors/a+b/temp', 'reading', { c: 5 });
    await p.sync();
    const got = p.messages.filter((m) => m.type === 'reading').map((m) => [m.channel, m.data]);
    expect(got).toEqual([['sensors/kitchen/temp', { c: 21 }], ['sensors/hall/temp', { c: 19 }], ['sensors/a+b/temp', { c: 5 }]]);
  });

  it('matches "#" at any depth, the parent level included, and "+" one level only', async () => {
    const { hub, url } = await start({ logger: false });
    const p = await peer(url);
    p.send({ type: 'subscribe', pattern: 'plant/#', id: 1 });
    p.send({ type: 'subscribe', pattern: '+/status', id: 2 });
    await p.next((m) => m.id === 1);
    await p.next((m) => m.id === 2);
    for (const channel of ['plant', 'plant/a', 'plant/a/b/c', 'planted', 'pump/status', 'a/b/status', 'plant/status']) await hub.publish(channel, 'x', channel);
    await p.sync();
    // plant/status matches both patterns and arrives once.
    expect(p.messages.filter((m) => m.type === 'x').map((m) => m.channel)).toEqual(['plant', 'plant/a', 'plant/a/b/c', 'pump/status', 'plant/status']);
  });

  it('gives a connection subscribed by name and by pattern each message once', async () => {
    const { hub, url } = await start({ logger: false });
    const p = await peer(url);
    await p.subscribe('rooms/1');
    p.send({ type: 'subscribe', pattern: 'rooms/+', id: 1 });
    await p.next((m) => m.id === 1);
    await hub.publish('rooms/1', 'x', 1);
    await hub.publish('rooms/2', 'x', 2);
    await p.sync();
    expect(p.messages.filter((m) => m.type === 'x').map((m) => m.channel)).toEqual(['rooms/1', 'rooms/2']);
  });

  it('stops delivering after unsubscribe, proven by a sentinel on a channel still subscribed', async () => {
    const { hub, url } = await start({ logger: false });
    const p = await peer(url);
    await p.subscribe('sentinel');
    p.send({ type: 'subscribe', pattern: 'news/#', id: 1 });
    await p.next((m) => m.id === 1);
    await hub.publish('news/a', 'x', 1);
    await p.next((m) => m.type === 'x' && m.channel === 'news/a');
    p.send({ type: 'unsubscribe', pattern: 'news/#', id: 2 });
    expect(await p.next((m) => m.id === 2)).toEqual({ type: 'unsubscribed', pattern: 'news/#', id: 2 });
    await hub.publish('news/a', 'x', 2);
    await hub.publish('sentinel', 'done', null);
    await p.next((m) => m.type === 'done');
    expect(p.messages.filter((m) => m.type === 'x')).toEqual([]);
  });

  it('answers bad patterns with invalid_pattern, recovery options with bad_request, and the limit with too_many_patterns', async () => {
    const { url } = await start({ logger: false, maxPatternsPerClient: 2 });
    const p = await peer(url);
    const cases: Array<[unknown, string]> = [['a/#/b', '"#" must be the last level'], ['a/b+/c', 'must stand alone'], ['a#', 'must stand alone'], ['a/b', 'needs a "+" or "#"'], ['', 'non-empty'], [7, 'non-empty']];
    let id = 0;
    for (const [pattern, text] of cases) {
      p.send({ type: 'subscribe', pattern, id: ++id });
      const answer = await p.next((m) => m.id === id);
      expect(answer, String(pattern)).toMatchObject({ type: 'error', code: 'invalid_pattern' });
      expect(answer.message).toContain(text);
    }
    p.send({ type: 'subscribe', pattern: 'a/+', since: { offset: 1, epoch: 'e' }, id: 'since' });
    expect(await p.next((m) => m.id === 'since')).toMatchObject({ type: 'error', code: 'bad_request', message: expect.stringContaining('live only') });
    p.send({ type: 'subscribe', pattern: 'a/+', channel: 'a', id: 'both' });
    expect(await p.next((m) => m.id === 'both')).toMatchObject({ type: 'error', code: 'bad_request' });
    p.send({ type: 'subscribe', pattern: 'a/+', id: 'one' });
    p.send({ type: 'subscribe', pattern: 'b/+', id: 'two' });
    p.send({ type: 'subscribe', pattern: 'a/+', id: 'again' });
    p.send({ type: 'subscribe', pattern: 'c/+', id: 'three' });
    expect(await p.next((m) => m.id === 'two')).toMatchObject({ type: 'subscribed' });
    expect(await p.next((m) => m.id === 'again')).toMatchObject({ type: 'error', code: 'already_subscribed', pattern: 'a/+' });
    expect(await p.next((m) => m.id === 'three')).toMatchObject({ type: 'error', code: 'too_many_patterns', pattern: 'c/+' });
  });

  it('asks authorize with the pattern and pattern: true, and refuses what it denies with forbidden', async () => {
    const asked: any[] = [];
    const { hub, url } = await start({ logger: false, authorize: (request) => { asked.push(request); return request.channel.startsWith('public/'); } });
    const p = await peer(url);
    p.send({ type: 'subscribe', pattern: 'public/+', id: 1 });
    p.send({ type: 'subscribe', pattern: '#', id: 2 });
    expect(await p.next((m) => m.id === 1)).toMatchObject({ type: 'subscribed' });
    expect(await p.next((m) => m.id === 2)).toMatchObject({ type: 'error', code: 'forbidden', pattern: '#' });
    expect(asked.map((r) => [r.action, r.channel, r.pattern])).toEqual([['subscribe', 'public/+', true], ['subscribe', '#', true]]);
    await hub.publish('public/x', 'x', 1);
    expect(await p.next((m) => m.type === 'x')).toMatchObject({ channel: 'public/x' });
  });

  it('never reaches personal, presence or the hub\'s own channels, nor private ones from a leading wildcard', async () => {
    const { hub, url } = await start({ logger: false, authorize: () => true });
    const p = await peer(url);
    p.send({ type: 'subscribe', pattern: '#', id: 1 });
    p.send({ type: 'subscribe', pattern: 'user:bob/#', id: 2 });
    p.send({ type: 'subscribe', pattern: 'private-team/+', id: 3 });
    await p.next((m) => m.id === 1);
    expect(await p.next((m) => m.id === 2)).toMatchObject({ code: 'forbidden' });
    await p.next((m) => m.id === 3);
    await hub.sendToUser('bob', 'x', 'personal');
    await hub.publish('presence-room', 'x', 'presence');
    await hub.publish('private-ops', 'x', 'private');
    await hub.publish('private-team/a', 'x', 'named private');
    await hub.publish('open', 'x', 'open');
    await p.sync();
    expect(p.messages.filter((m) => m.type === 'x').map((m) => m.data)).toEqual(['named private', 'open']);
  });

  it('refuses patterns without an authorize hook only where channels would be refused', async () => {
    const { url } = await start({ logger: false });
    const p = await peer(url);
    p.send({ type: 'subscribe', pattern: 'private-x/+', id: 1 });
    p.send({ type: 'subscribe', pattern: '%23user:x/+', id: 2 });
    p.send({ type: 'subscribe', pattern: '+/+', id: 3 });
    expect(await p.next((m) => m.id === 1)).toMatchObject({ code: 'forbidden' });
    expect(await p.next((m) => m.id === 2)).toMatchObject({ code: 'forbidden' });
    expect(await p.next((m) => m.id === 3)).toMatchObject({ type: 'subscribed' });
  });
});

describe('pattern subscriptions over Server-Sent Events', () => {
  it('streams what ?pattern= matches, and answers a bad pattern with 400 invalid_pattern', async () => {
    const { hub, base } = await start({ logger: false }, { attach: { eventsPath: '/events' } });
    const bad = await fetch(`${base}/events?pattern=${encodeURIComponent('a/#/b')}`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_pattern' } });
    const source = new EventSource(`${base}/events?pattern=${encodeURIComponent('sensors/+/temp')}&channel=done`);
    cleanup(() => source.close());
    const events: any[] = [];
    source.addEventListener('livehub', (e) => events.push(JSON.parse(e.data)));
    source.addEventListener('reading', (e) => events.push(JSON.parse(e.data)));
    source.addEventListener('done', (e) => events.push(JSON.parse(e.data)));
    await expect.poll(() => events.some((e) => e.type === 'subscribed' && e.pattern === 'sensors/+/temp')).toBe(true);
    await expect.poll(() => events.some((e) => e.type === 'subscribed' && e.channel === 'done')).toBe(true);
    await hub.publish('sensors/hall/temp', 'reading', { c: 20 });
    await hub.publish('sensors/hall/light', 'reading', { l: 1 });
    await hub.publish('done', 'done', null);
    await expect.poll(() => events.some((e) => e.type === 'done')).toBe(true);
    expect(events.filter((e) => e.type === 'reading')).toEqual([expect.objectContaining({ channel: 'sensors/hall/temp', data: { c: 20 } })]);
  });
});
