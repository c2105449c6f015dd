import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineHandlers, Publication } from 'livehub/engine';
import { PostgresEngine } from 'livehub/postgres';
import { startPostgres, testDatabase, type OwnPostgres } from './postgres-db.js';

// Group commit: publishes made while a statement is in flight go to PostgreSQL together.
let db: Awaited<ReturnType<typeof testDatabase>>;
let frozen: OwnPostgres;
beforeAll(async () => { [db, frozen] = await Promise.all([testDatabase(), startPostgres()]); });
const engines: PostgresEngine[] = [];
afterAll(async () => {
  frozen?.signal('SIGCONT');
  for (const e of engines) await e.close();
  await db?.drop();
  frozen?.remove();
});

const keep = { size: 1000, ttl: 60_000 };

async function node(url: string, schema: string, extra: ConstructorParameters<typeof PostgresEngine>[0] = {}) {
  const engine = new PostgresEngine({ connectionString: url, schema, pollInterval: 100, ...extra });
  engines.push(engine);
  const delivered: Publication[] = [];
  const handlers: EngineHandlers = { node: schema, message: () => {}, reset: () => {}, deliver: (p) => delivered.push(p), log: () => {} };
  await engine.start(handlers);
  // Counts the statements the engine sends (each takes a pooled connection).
  const counter = { statements: 0 };
  const pool = engine.pool as unknown as { connect: (...args: unknown[]) => unknown };
  const connect = pool.connect.bind(pool);
  pool.connect = (...args) => { counter.statements++; return connect(...args); };
  return { engine, delivered, counter };
}

describe('PostgresEngine group commit', () => {
  it('gives each channel its offsets in call order when hundreds of publishes to several channels are made at once, in far fewer statements than publishes', async () => {
    const { engine, delivered, counter } = await node(db.url, 'grouped');
    const channels = Array.from({ length: 8 }, (_, i) => `room-${i}`);
    for (const c of channels) await engine.subscribe(c);
    const before = counter.statements;
    const calls: Array<{ channel: string; n: number; result: Promise<{ offset: number }> }> = [];
    for (let n = 1; n <= 50; n++) {
      for (const channel of channels) calls.push({ channel, n, result: engine.publish(channel, 't', String(n), keep) });
    }
    const results = await Promise.all(calls.map((c) => c.result));
    for (const [i, c] of calls.entries()) expect([c.channel, results[i]!.offset]).toEqual([c.channel, c.n]);
    expect(counter.statements - before).toBeLessThan(calls.length / 5);
    await expect.poll(() => delivered.length, { timeout: 15_000 }).toBe(calls.length);
    for (const c of channels) {
      const got = delivered.filter((p) => p.channel === c);
      expect(got.map((p) => [p.offset, Number(p.data)])).toEqual(Array.from({ length: 50 }, (_, i) => [i + 1, i + 1]));
    }
  });

  it('answers each publish of a batch with its own outcome: the one PostgreSQL refuses fails, the others of its batch publish in order', async () => {
    const { engine } = await node(db.url, 'outcomes');
    const settled = await Promise.allSettled([1, 2, 3, 4, 5].map((n) =>
      engine.publish('mixed', 't', String(n), n === 3 ? { size: 2 ** 40, ttl: 60_000 } : keep)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((settled as Array<PromiseFulfilledResult<{ offset: number }>>).filter((s) => s.status === 'fulfilled').map((s) => s.value.offset)).toEqual([1, 2, 3, 4]);
    expect((settled[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/publish to channel 'mixed' failed: PostgreSQL at .* refused it \(22003/) });
    const page = await engine.page('mixed', { limit: 10 });
    expect(page.publications.map((p) => p.data)).toEqual(['1', '2', '4', '5']);
  });

  it('rejects each publish of a batch that got no answer with outcome_unknown naming its own channel, and retries with the same keys publish each once', async () => {
    const { engine } = await node(frozen.url, 'frozen', { commandTimeout: 1000 });
    await engine.publish('a', 't', '"warm"', keep);
    const once = (n: number) => ({ idempotencyKey: `key-${n}`, idempotencyTtl: 60_000 });
    frozen.signal('SIGSTOP');
    const began = Date.now();
    const settled = await Promise.all([1, 2, 3, 4].map((n) => engine.publish('a', 't', String(n), keep, once(n)).then(() => null, (e: { code: string; message: string }) => e)));
    expect(Date.now() - began).toBeLessThan(2500);
    for (const e of settled) expect(e).toMatchObject({ code: 'outcome_unknown', message: expect.stringContaining("publish to channel 'a' (sent in a batch of 4 publishes") });
    frozen.signal('SIGCONT');
    await expect.poll(async () => (await Promise.all([1, 2, 3, 4].map((n) => engine.publish('a', 't', String(n), keep, once(n)).then(() => true, () => false)))).every(Boolean), { timeout: 15_000 }).toBe(true);
    const page = await engine.page('a', { limit: 100 });
    expect(page.publications.map((p) => p.data)).toEqual(['"warm"', '1', '2', '3', '4']);
    expect(page.publications.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5]);
  });

  it('answers history reads made at once each with its own channel and position, in one statement', async () => {
    const { engine, counter } = await node(db.url, 'reads');
    for (const c of ['r1', 'r2', 'r3']) for (let n = 1; n <= 5; n++) await engine.publish(c, 't', `"${c}-${n}"`, keep);
    const { position } = await engine.history('r2', null);
    const first = (await engine.history('r1', null)).position;
    const before = counter.statements;
    const [r1, r2, r3, fresh, stale] = await Promise.all([
      engine.history('r1', { offset: 3, epoch: first.epoch }),
      engine.history('r2', { offset: 0, epoch: position.epoch }),
      engine.history('r3', null),
      engine.history('never-published', null),
      engine.history('r2', { offset: 2, epoch: 'another-epoch' }),
    ]);
    expect(counter.statements - before).toBe(1);
    expect(r1.publications.map((p) => p.data)).toEqual(['"r1-4"', '"r1-5"']);
    expect(r1.recovered).toBe(true);
    expect(r2.publications.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(r3).toMatchObject({ position: { offset: 5 }, publications: [], recovered: false });
    expect(fresh).toMatchObject({ position: { offset: 0 }, publications: [], recovered: false });
    expect(stale).toMatchObject({ position: { offset: 5, epoch: position.epoch }, publications: [], recovered: false });
  });

  it('reads once for the history calls of one channel from one position, each caller getting a result of its own', async () => {
    const { engine } = await node(db.url, 'shared');
    for (let n = 1; n <= 4; n++) await engine.publish('group', 't', String(n), keep);
    const { epoch } = (await engine.history('group', null)).position;
    // The channels each read statement names.
    const named: number[] = [];
    type Query = (config: { text?: string; values?: unknown[][] }, ...rest: unknown[]) => unknown;
    const pool = engine.pool as unknown as { connect: () => Promise<{ query: Query }> };
    const connect = pool.connect.bind(pool);
    pool.connect = async () => {
      const client = await connect();
      const query = client.query;
      client.query = function (this: unknown, config, ...rest) {
        if (/unnest\(\$1::text\[\], \$2::bigint\[\]/.test(String(config?.text))) named.push(config.values![0]!.length);
        return query.call(this, config, ...rest);
      };
      return client;
    };
    const results = await Promise.all([
      ...Array.from({ length: 300 }, () => engine.history('group', { offset: 1, epoch })),
      engine.history('group', { offset: 3, epoch }),
    ]);
    pool.connect = connect;
    expect(named).toEqual([2]);
    for (const r of results.slice(0, 300)) expect(r).toMatchObject({ recovered: true, position: { offset: 4, epoch } });
    for (const r of results.slice(0, 300)) expect(r.publications.map((p) => p.data)).toEqual(['2', '3', '4']);
    expect(results[300]!.publications.map((p) => p.data)).toEqual(['4']);
    results[0]!.publications.pop();
    expect(results[1]!.publications).toHaveLength(3);
  });

  it('recovers every history read of a batch while publishes to its channel commit meanwhile: the position never counts a message the read misses', async () => {
    const { engine } = await node(db.url, 'snapshot');
    const wide = { size: 100_000, ttl: 600_000 };
    await engine.publish('busy', 't', '0', wide);
    const { epoch } = (await engine.history('busy', null)).position;
    let publishing = true;
    let read = 0;
    const publisher = (async () => {
      while (publishing) await Promise.all(Array.from({ length: 32 }, (_, i) => engine.publish('busy', 't', String(i), wide)));
    })();
    try {
      // Rounds until three of them saw publishes commit between their position read and their history reads.
      for (let round = 0; round < 500 && read < 3; round++) {
        const base = (await engine.history('busy', null)).position.offset;
        // 400 calls from 20 positions: 20 distinct reads in one statement.
        const since = Array.from({ length: 400 }, (_, i) => Math.max(0, base - (i % 20)));
        const results = await Promise.all(since.map((offset) => engine.history('busy', { offset, epoch })));
        for (const [i, r] of results.entries()) {
          expect(r.recovered).toBe(true);
          expect(r.publications.map((p) => p.offset)).toEqual(Array.from({ length: r.position.offset - since[i]! }, (_, j) => since[i]! + j + 1));
        }
        if (results[0]!.position.offset > base) read++;
      }
    } finally {
      publishing = false;
      await publisher;
    }
    // Publishes committed while the reads ran.
    expect(read).toBe(3);
  });
});
