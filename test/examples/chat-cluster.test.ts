import { createServer } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Peer } from '../helpers.js';
import { testDatabase } from '../engine/postgres-db.js';
import { sharedRedisUrl } from '../redis.js';
import { freshRequest, nodeOf, peerOnEach, rememberWorker, runChat, sseClient, startCluster, workersIn } from './cluster-process.js';

/** The example chat on every core: WORKERS=n runs n node:cluster workers on one port, sharing Redis. */

const prefix = (name: string) => `chat-cluster-${name}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
const names = (members: any[]) => members.map((m) => m.info?.name).sort();

describe('the example chat with WORKERS=2', () => {
  const engines: Array<[string, () => Promise<{ env: Record<string, string>; drop: () => Promise<void> }>]> = [
    ['Redis', async () => ({ env: { REDIS_URL: await sharedRedisUrl(), LIVEHUB_PREFIX: prefix('chat') }, drop: async () => {} })],
    ['PostgreSQL', async () => {
      const db = await testDatabase();
      return { env: { DATABASE_URL: db.url }, drop: db.drop };
    }],
  ];
  it.each(engines)('serves WebSocket and SSE clients on different workers, who see each other\'s messages and presence (%s)', async (_name, engine) => {
    const { env, drop } = await engine();
    onTestFinished(drop);
    const chat = await startCluster(2, env);
    const nodes = [...chat.workers.keys()];
    // Two processes: the pids the workers logged differ from each other and from the primary's.
    expect(new Set([...chat.workers.values(), chat.primaryPid]).size).toBe(3);
    const annOn = await peerOnEach(`${chat.ws}?name=ann`, nodes);
    const bobOn = await peerOnEach(`${chat.ws}?name=bob`, nodes);
    const ann = annOn.get(nodes[0]!)!;
    const bob = bobOn.get(nodes[1]!)!;
    annOn.get(nodes[1]!)!.close();
    bobOn.get(nodes[0]!)!.close();

    for (const peer of [ann, bob]) await peer.subscribe('chat');
    ann.send({ type: 'subscribe', channel: 'presence-chat' });
    await ann.next((m) => m.type === 'presence' && names(m.members).includes('ann'), 15_000);
    bob.send({ type: 'subscribe', channel: 'presence-chat' });
    // Bob, on the other worker, finds Ann among the members; Ann hears Bob join.
    await bob.next((m) => m.type === 'presence' && names(m.members).join() === 'ann,bob', 15_000);
    expect((await ann.next((m) => m.channel === 'presence-chat' && m.type === 'join' && m.data.info.name === 'bob', 15_000)).data.status).toBe('online');

    const sam = sseClient(`${chat.base}/events?channel=chat&channel=presence-chat&name=sam`);
    try {
      const { token } = await sam.next((m) => m.type === 'stream');
      const samNode = String(token).split('.')[0];
      expect(nodes).toContain(samNode);
      expect((await sam.next((m) => m.type === 'presence')).members.map((m: any) => m.info?.name).sort()).toEqual(['ann', 'bob', 'sam']);
      for (const peer of [ann, bob]) expect((await peer.next((m) => m.channel === 'presence-chat' && m.type === 'join' && m.data.info.name === 'sam', 15_000)).data.status).toBe('online');
      await sam.next((m) => m.type === 'subscribed' && m.channel === 'chat');

      // A WebSocket client's publish on one worker reaches the other worker's client and the stream.
      ann.send({ type: 'publish', channel: 'chat', event: 'message', data: { id: 'from-ann-1', body: 'hi from ann', author: 'ann' }, id: 'a1' });
      await ann.next((m) => m.id === 'a1' && m.type === 'ack', 15_000);
      expect((await bob.next((m) => m.channel === 'chat' && m.data?.id === 'from-ann-1', 15_000)).data.author).toBe('ann');
      expect((await sam.next((m) => m.channel === 'chat' && m.data?.id === 'from-ann-1')).data.author).toBe('ann');

      // The stream's commands come on connections of their own, handed to either worker: those that
      // reach the other worker are forwarded to the stream's (no sticky routing), and all are published.
      const answers: string[] = [];
      for (let n = 1; n <= 20 && !(answers.some((a) => a.includes('forwarded')) && answers.some((a) => !a.includes('forwarded'))); n++) {
        const command = { type: 'publish', channel: 'chat', event: 'message', data: { id: `from-sam-${n}`, body: `hi ${n}`, author: 'sam' }, id: `s${n}` };
        const answer = await freshRequest(`${chat.base}/events`, 'POST', command, { 'X-Livehub-Stream': token });
        expect(answer.status).toBe(202);
        answers.push(answer.body);
        await sam.next((m) => m.id === `s${n}` && m.type === 'ack');
        for (const peer of [ann, bob]) expect((await peer.next((m) => m.channel === 'chat' && m.data?.id === `from-sam-${n}`, 15_000)).data.author).toBe('sam');
      }
      expect(answers.filter((a) => a.includes('forwarded to the stream\'s node')).length).toBeGreaterThan(0);
      expect(answers.filter((a) => !a.includes('forwarded')).length).toBeGreaterThan(0);

      // hub.publish from whichever worker takes POST /messages reaches everyone.
      const posted = await freshRequest(`${chat.base}/messages`, 'POST', { id: 'from-http-1', author: 'carol', body: 'over HTTP' });
      expect(posted.status).toBe(201);
      for (const peer of [ann, bob]) expect((await peer.next((m) => m.channel === 'chat' && m.data?.id === 'from-http-1', 15_000)).data.author).toBe('carol');
      await sam.next((m) => m.channel === 'chat' && m.data?.id === 'from-http-1');
    } finally {
      sam.source.close();
      ann.close();
      bob.close();
    }
  }, 180_000);

  it('drains every worker on SIGTERM to the primary: clients get 1012, then the workers and the primary exit 0', async () => {
    const chat = await startCluster(2, { REDIS_URL: await sharedRedisUrl(), LIVEHUB_PREFIX: prefix('drain') });
    const peers = await peerOnEach(chat.ws, [...chat.workers.keys()]);
    const sam = sseClient(`${chat.base}/events?channel=chat`);
    await sam.next((m) => m.type === 'subscribed' && m.channel === 'chat');
    chat.child.kill('SIGTERM');
    for (const peer of peers.values()) {
      const closed = await peer.whenClosed(30_000);
      expect(closed.code).toBe(1012);
    }
    expect(await sam.next((m) => m.type === 'close', 30_000)).toMatchObject({ code: 1012 });
    expect(await chat.exited).toEqual({ code: 0, signal: null });
    for (const pid of chat.workers.values()) expect(chat.lines).toContain(`livehub chat: worker pid ${pid} exited (status 0)`);
  }, 180_000);

  it('replaces a worker that dies: its clients are cut (1006), the survivor\'s stay, and new connections reach the replacement', async () => {
    const chat = await startCluster(2, { REDIS_URL: await sharedRedisUrl(), LIVEHUB_PREFIX: prefix('crash') });
    const nodes = [...chat.workers.keys()];
    const peers = await peerOnEach(chat.ws, nodes);
    const [dead, alive] = nodes as [string, string];
    process.kill(chat.workers.get(dead)!, 'SIGKILL');
    expect((await peers.get(dead)!.whenClosed(30_000)).code).toBe(1006);
    const [, replacement] = await chat.line(new RegExp(`worker pid ${chat.workers.get(dead)} exited \\(signal SIGKILL\\).*started worker pid (\\d+) in its place`));
    rememberWorker(Number(replacement));
    // The replacement listens on the same port, as a node of its own, beside the survivor.
    await expect.poll(() => [...workersIn(chat.lines).values()].includes(Number(replacement)), { timeout: 60_000 }).toBe(true);
    const fresh = [...workersIn(chat.lines)].find(([, pid]) => pid === Number(replacement))![0];
    const both = await peerOnEach(chat.ws, [alive, fresh]);
    expect(peers.get(alive)!.closed).toBeNull();
    expect(await nodeOf(peers.get(alive)!)).toBe(alive);
    for (const peer of [...peers.values(), ...both.values()]) peer.close();
  }, 180_000);

  it('in JWT mode, a login made on one worker is accepted by every worker (one secret for all)', async () => {
    const chat = await startCluster(2, { REDIS_URL: await sharedRedisUrl(), LIVEHUB_PREFIX: prefix('jwt'), AUTH: 'jwt' });
    const login = await freshRequest(`${chat.base}/login`, 'POST', { name: 'zoe' });
    expect(login.status).toBe(204);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const peers = await peerOnEach(chat.ws, [...chat.workers.keys()], { headers: { Cookie: cookie } });
    for (const peer of peers.values()) {
      peer.send({ type: 'whoami', id: 'me' });
      expect((await peer.next((m) => m.id === 'me', 15_000)).data.user).toBe('zoe');
      peer.close();
    }
  }, 180_000);

  it('stops every worker and exits 1 when a worker fails before it listens (its port taken), instead of forking again and again', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as { port: number };
      const run = runChat({ WORKERS: '2', PORT: String(port), REDIS_URL: await sharedRedisUrl(), LIVEHUB_PREFIX: prefix('taken') });
      expect(await run.exited).toEqual({ code: 1, signal: null });
      const output = run.lines.join('\n');
      expect(output).toContain('EADDRINUSE');
      expect(output).toMatch(/worker pid \d+ exited \(status 1\) before it listened; stopping/);
      expect(output).not.toContain('in its place');
    } finally {
      taken.close();
    }
  }, 180_000);

  it('refuses to start workers without a shared engine, with a bad WORKERS, or in JWT mode without Redis, saying what to set', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ WORKERS: '2' }, 'livehub chat: WORKERS needs REDIS_URL or DATABASE_URL'],
      [{ WORKERS: 'two', REDIS_URL: 'redis://127.0.0.1:6379' }, 'livehub chat: WORKERS must be a whole number of processes (1 or more) or "auto"'],
      [{ WORKERS: '0', REDIS_URL: 'redis://127.0.0.1:6379' }, 'got "0"'],
      [{ WORKERS: '2', AUTH: 'jwt', DATABASE_URL: 'postgres://127.0.0.1:5432/none' }, 'livehub chat: WORKERS with AUTH=jwt needs REDIS_URL'],
    ];
    for (const [env, said] of cases) {
      const run = runChat(env);
      expect(await run.exited).toEqual({ code: 1, signal: null });
      expect(run.lines.join('\n')).toContain(said);
      expect(run.lines.join('\n')).not.toContain('listening');
    }
  }, 180_000);
});
