import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AuthError, type HubOptions } from 'livehub';
import type { TransportEndpoint } from 'livehub/transport';
import { Peer, perTest } from '../../helpers.js';
import { LineClient, LinesEndpoint } from './lines.js';

const USERS: Record<string, string> = { 'token-alice': 'alice', 'token-bob': 'bob' };
const authenticate: HubOptions['authenticate'] = (request) => {
  const token = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
  const userId = USERS[token];
  if (!userId) throw new AuthError(401, 'unknown token');
  return { userId };
};

const harness = perTest();

/** A hub with the lines transport added from outside, and its WebSocket on a real server. */
async function start(options: HubOptions = {}) {
  const { hub, url: ws } = await harness.start({ logger: false, authenticate, ...options });
  const lines = new LinesEndpoint();
  hub.addTransport(lines);
  await expect.poll(() => { try { return lines.port > 0; } catch { return false; } }).toBe(true);
  const line = async (token: string) => {
    const client = new LineClient(connect(lines.port, '127.0.0.1'));
    harness.cleanup(() => client.socket.destroy());
    client.send({ token });
    return client;
  };
  return { hub, lines, ws, line };
}

describe('a transport an app adds with hub.addTransport, written on livehub/transport alone', () => {
  it('passes the hub\'s gate: an unknown token is refused with 401 unauthorized, a known one gets a session of its user', async () => {
    const { hub, line } = await start();
    const stranger = await line('token-mallory');
    expect(await stranger.next((l) => l.type === 'refused')).toEqual({ type: 'refused', status: 401, code: 'unauthorized' });
    const alice = await line('token-alice');
    const { id } = await alice.next((l) => l.type === 'welcome');
    expect(id).toMatch(new RegExp(`^${hub.node}-`));
    await expect.poll(() => hub.connectedClients('alice')).toEqual([id]);
    expect(hub.info().connections).toMatchObject({ lines: 1 });
    await hub.sendToUser('alice', 'note', 'for alice');
    expect(await alice.next((l) => l.type === 'note')).toMatchObject({ channel: 'user:alice', data: 'for alice' });
  });

  it('fans out one channel to line and WebSocket clients alike, both ways', async () => {
    const { ws, line } = await start({ canPublish: () => true, authenticate: () => ({ userId: 'anyone' }) });
    const liner = await line('any');
    await liner.next((l) => l.type === 'welcome');
    liner.send({ type: 'subscribe', channel: 'room', id: 1 });
    await liner.next((l) => l.type === 'subscribed' && l.channel === 'room');
    const peer = await Peer.open(ws);
    harness.cleanup(() => peer.ws.close());
    await peer.subscribe('room');
    liner.send({ type: 'publish', channel: 'room', event: 'said', data: 'from a line', id: 2 });
    expect(await peer.next((m) => m.type === 'said')).toMatchObject({ channel: 'room', data: 'from a line', offset: 1 });
    peer.send({ type: 'publish', channel: 'room', event: 'said', data: 'from a socket', id: 3 });
    expect(await liner.next((l) => l.type === 'said' && l.data === 'from a socket')).toMatchObject({ channel: 'room', offset: 2 });
    expect(await liner.next((l) => l.type === 'ack' && l.id === 2)).toMatchObject({ offset: 1 });
  });

  it('recovers what a line client missed from history, exactly the messages after its position', async () => {
    const { hub, line } = await start({ authenticate: () => ({ userId: 'anyone' }) });
    const first = await hub.publish('news', 'headline', 1);
    await hub.publish('news', 'headline', 2);
    await hub.publish('news', 'headline', 3);
    const liner = await line('any');
    await liner.next((l) => l.type === 'welcome');
    liner.send({ type: 'subscribe', channel: 'news', since: first, id: 'resume' });
    expect(await liner.next((l) => l.type === 'subscribed')).toMatchObject({ channel: 'news', offset: 3, recovered: true, id: 'resume' });
    await liner.next((l) => l.type === 'headline' && l.data === 3);
    expect(liner.lines.filter((l) => l.type === 'headline').map((l) => [l.offset, l.data])).toEqual([[2, 2], [3, 3]]);
  });

  it('applies the hub\'s limits: past the inbound rate limit it answers rate_limited, and the channel cap holds', async () => {
    const { line } = await start({ authenticate: () => ({ userId: 'anyone' }), rateLimit: 5, rateLimitBurst: 5, maxChannelsPerClient: 2 });
    const liner = await line('any');
    await liner.next((l) => l.type === 'welcome');
    for (let i = 0; i < 4; i++) liner.send({ type: 'subscribe', channel: `c${i}`, id: i });
    expect(await liner.next((l) => l.type === 'error' && l.id === 3)).toMatchObject({ code: 'too_many_channels', channel: 'c3' });
    for (let i = 0; i < 3; i++) liner.send({ type: 'ping', id: `p${i}` });
    expect(await liner.next((l) => l.type === 'error' && l.code === 'rate_limited')).toMatchObject({ code: 'rate_limited' });
  });

  it('refuses a second transport of a taken name, and an endpoint without start and stop, with a TypeError', () => {
    const hub = harness.hub({ logger: false });
    expect(() => hub.addTransport({ name: 'websocket', start() {}, stop() {} })).toThrow(new TypeError('livehub: the hub already has a transport named "websocket"'));
    expect(() => hub.addTransport({ name: 'broken' } as unknown as TransportEndpoint)).toThrow(TypeError);
  });

  it('stops the transport on hub.close(), after closing its sessions with 1001', async () => {
    const { hub, lines, line } = await start({ authenticate: () => ({ userId: 'anyone' }) });
    const liner = await line('any');
    await liner.next((l) => l.type === 'welcome');
    const { port } = lines;
    await hub.close();
    expect(await liner.next((l) => l.type === 'close')).toEqual({ type: 'close', code: 1001, reason: 'server shutting down' });
    const refused = await new Promise<string>((resolve) => connect(port, '127.0.0.1').on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')).on('connect', () => resolve('connected')));
    expect(refused).toBe('ECONNREFUSED');
  });
});
