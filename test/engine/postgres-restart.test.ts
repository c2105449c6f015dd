import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Peer } from '../helpers.js';
import { testDatabase } from './postgres-db.js';

let db: Awaited<ReturnType<typeof testDatabase>>;
let pool: pg.Pool;
const children: ChildProcess[] = [];
beforeAll(async () => {
  db = await testDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  // pool.end() resolves while its connections are still closing: the forced drop of the database
  // after it may end one with an error, which is the drop's, not the test's.
  pool.on('error', () => {});
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await pool?.end();
  await db?.drop();
});

/** A hub node in a process of its own (test/engine/postgres-node.ts); resolves with its WebSocket URL. */
async function node(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/engine/postgres-node.ts'], {
    env: { ...process.env, DATABASE_URL: db.url }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d) => { const m = /READY (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); });
    child.once('exit', (code) => reject(new Error(`the node exited (${code}) before it was ready`)));
  });
  return { url: `ws://127.0.0.1:${port}/ws`, child };
}

const said = (peer: Peer) => peer.messages.filter((m) => m.channel === 'room' && m.type === 'said');

describe('PostgresEngine across a restart of every node', () => {
  it('gives clients of nodes killed with SIGKILL, back on new nodes, every message published meanwhile, once and in order', async () => {
    const [a, b] = await Promise.all([node(), node()]);
    const peers = [await Peer.open(a.url), await Peer.open(b.url)];
    let epoch = '';
    for (const peer of peers) {
      peer.send({ type: 'subscribe', channel: 'room' });
      ({ epoch } = await peer.next((m) => m.type === 'subscribed', 10_000));
    }
    // Another service publishes through the SQL function while the hubs run…
    for (let i = 1; i <= 5; i++) await pool.query("select * from livehub.publish('room', 'said', $1)", [String(i)]);
    for (const peer of peers) await expect.poll(() => said(peer).length, { timeout: 10_000 }).toBe(5);
    const { offset } = said(peers[0]!).at(-1)!;
    expect(offset).toBe(5);

    a.child.kill('SIGKILL');
    b.child.kill('SIGKILL');
    for (const peer of peers) await peer.whenClosed();
    // …and while none runs.
    for (let i = 6; i <= 10; i++) await pool.query("select * from livehub.publish('room', 'said', $1)", [String(i)]);

    const [c, d] = await Promise.all([node(), node()]);
    const back = [await Peer.open(c.url), await Peer.open(d.url)];
    for (const peer of back) {
      peer.send({ type: 'subscribe', channel: 'room', since: { offset, epoch } });
      expect(await peer.next((m) => m.type === 'subscribed', 10_000)).toMatchObject({ recovered: true, offset: 10, epoch });
    }
    await pool.query("select * from livehub.publish('room', 'said', '11')");
    for (const peer of back) {
      await expect.poll(() => said(peer).length, { timeout: 10_000 }).toBe(6);
      expect(said(peer).map((m) => [m.offset, m.data])).toEqual([[6, 6], [7, 7], [8, 8], [9, 9], [10, 10], [11, 11]]);
      peer.close();
    }
  }, 60_000);
});
