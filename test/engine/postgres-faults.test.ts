import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngineHandlers, Publication } from 'livehub/engine';
import { PostgresEngine } from 'livehub/postgres';
import { startPostgres, type OwnPostgres } from './postgres-db.js';

// A private PostgreSQL server, stopped, frozen and cut off here; never the shared one.
let server: OwnPostgres;
beforeAll(async () => { server = await startPostgres(); });
afterAll(() => server?.remove());

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  server.signal('SIGCONT');
  for (const c of cleanups.splice(0).reverse()) await c();
});

type LogLine = { level: string; context: Record<string, unknown>; message: string };
const keep = { size: 1000, ttl: 60_000 };

async function node(options: ConstructorParameters<typeof PostgresEngine>[0] = {}) {
  const engine = new PostgresEngine({ connectionString: server.url, schema: 'faults', commandTimeout: 1000, pollInterval: 100, ...options });
  const delivered: Publication[] = [];
  const logs: LogLine[] = [];
  const handlers: EngineHandlers = {
    node: randomBytes(4).toString('hex'),
    message: () => {},
    deliver: (p) => delivered.push(p),
    reset: () => {},
    log: (level, _cause, context, message) => logs.push({ level, context, message }),
  };
  cleanups.push(() => engine.close());
  await engine.start(handlers);
  return { engine, delivered, logs };
}

const channel = () => `c${randomBytes(3).toString('hex')}`;

describe('PostgresEngine when the database stops', () => {
  it('rejects publishes with unavailable naming the host and cause within the deadline, logs it, and publishes and delivers again once the database is back', async () => {
    const { engine, delivered, logs } = await node();
    const c = channel();
    await engine.subscribe(c);
    await engine.publish(c, 't', '1', keep);
    server.stop();
    const began = Date.now();
    const failure = await engine.publish(c, 't', '2', keep).then(() => null, (e: unknown) => e);
    expect(Date.now() - began).toBeLessThan(2500);
    expect(failure).toMatchObject({ code: 'unavailable', message: expect.stringContaining(`PostgreSQL at 127.0.0.1:${server.port}`) });
    expect((failure as Error).message).toMatch(/ECONNREFUSED|terminat|closed/i);
    expect(logs.some((l) => l.level === 'warn' && l.context.host === `127.0.0.1:${server.port}` && l.message.includes(`PostgreSQL at 127.0.0.1:${server.port}`)
      && /ECONNREFUSED|terminat|closed/i.test(l.message) && l.context.code !== 'engine_disconnected')).toBe(true);
    await server.start();
    await expect.poll(() => engine.publish(c, 't', '3', keep).then((r) => r.offset, () => 0), { timeout: 10_000 }).toBeGreaterThan(1);
    await expect.poll(() => delivered.map((p) => p.data).includes('3'), { timeout: 10_000 }).toBe(true);
    expect(delivered.map((p) => p.offset)).toEqual(delivered.map((_, i) => i + 1));
    expect(logs.some((l) => l.context.code === 'engine_ready')).toBe(true);
  });
});

describe('PostgresEngine started while the database is down', () => {
  it('starts within startupWait, logs that it could not migrate, and applies its migrations and publishes once the database is up', async () => {
    server.stop();
    const began = Date.now();
    const { engine, delivered, logs } = await node({ schema: 'late', startupWait: 300 });
    expect(Date.now() - began).toBeLessThan(2000);
    await engine.subscribe('c').catch(() => {});
    await expect(engine.publish('c', 't', '1', keep)).rejects.toMatchObject({ code: 'unavailable' });
    expect(logs.some((l) => l.context.code === 'engine_migrate_failed' && l.message.includes(`127.0.0.1:${server.port}`))).toBe(true);
    await server.start();
    await expect.poll(() => engine.publish('c', 't', '2', keep).then((r) => r.offset, () => 0), { timeout: 10_000 }).toBe(1);
    await engine.subscribe('c');
    await engine.publish('c', 't', '3', keep);
    await expect.poll(() => delivered.map((p) => p.data)).toEqual(['3']);
  });
});

describe('PostgresEngine when the database freezes', () => {
  it('rejects a publish it sent with outcome_unknown within the deadline, and a retry with the same key after the thaw publishes it once', async () => {
    const { engine, delivered, logs } = await node();
    const c = channel();
    await engine.subscribe(c);
    await engine.publish(c, 't', '"warm"', keep);
    server.signal('SIGSTOP');
    const once = { idempotencyKey: `k-${c}`, idempotencyTtl: 60_000 };
    const began = Date.now();
    const failure = await engine.publish(c, 't', '"once"', keep, once).then(() => null, (e: unknown) => e);
    expect(Date.now() - began).toBeLessThan(2500);
    expect(failure).toMatchObject({ code: 'outcome_unknown', message: expect.stringContaining(`no answer from PostgreSQL at 127.0.0.1:${server.port}`) });
    const next = await engine.publish(c, 't', '"other"', keep).then(() => null, (e: unknown) => e);
    expect(next).toMatchObject({ code: expect.stringMatching(/^(unavailable|outcome_unknown)$/) });
    expect(logs.some((l) => l.context.code === 'engine_timeout' && l.context.host === `127.0.0.1:${server.port}`)).toBe(true);
    server.signal('SIGCONT');
    await expect.poll(() => engine.publish(c, 't', '"once"', keep, once).then(() => true, () => false), { timeout: 10_000 }).toBe(true);
    await engine.publish(c, 't', '"after"', keep);
    await expect.poll(() => delivered.at(-1)?.data, { timeout: 10_000 }).toBe('"after"');
    expect(delivered.filter((p) => p.data === '"once"')).toHaveLength(1);
    expect(delivered.map((p) => p.offset)).toEqual(delivered.map((_, i) => i + 1));
  });
});

describe('PostgresEngine publishes queued behind a frozen one', () => {
  it('settles every publish of a channel within the deadline of its call: those sent together each outcome_unknown, those queued behind them unavailable (not sent)', async () => {
    const { engine } = await node({ commandTimeout: 1000 });
    const c = channel();
    await engine.publish(c, 't', '"warm"', keep);
    server.signal('SIGSTOP');
    const began = Date.now();
    const settle = (i: number) => engine.publish(c, 't', String(i), keep).then(() => 'published', (e: { code: string; message: string }) => [e.code, e.message, Date.now() - began] as const);
    const sent = [1, 2, 3].map(settle);
    // Called after the first three were sent: it waits for them, and is not sent once they got no answer.
    const queued = new Promise((resolve) => setTimeout(resolve, 50)).then(() => engine.publish(c, 't', '4', keep).then(() => 'published', (e: { code: string; message: string }) => [e.code, e.message, Date.now() - began] as const));
    const settled = await Promise.all([...sent, queued]);
    expect(settled.map((r) => r[0])).toEqual(['outcome_unknown', 'outcome_unknown', 'outcome_unknown', 'unavailable']);
    expect(settled[3]![1]).toContain('not sent');
    for (const r of settled) expect(r[2]).toBeLessThan(1800);
  });
});

describe('PostgresEngine when the listening connection is killed', () => {
  it('delivers every publication of another node in order while its listening connection is terminated again and again', async () => {
    const a = await node({ pollInterval: 300 });
    const b = await node({ pollInterval: 300 });
    const c = channel();
    await b.engine.subscribe(c);
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    cleanups.push(() => admin.end());
    const kills = (async () => {
      for (let i = 0; i < 5; i++) {
        await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'livehub listen'");
        await new Promise((resolve) => setTimeout(resolve, 60));
      }
    })();
    for (let i = 1; i <= 200; i++) await a.engine.publish(c, 't', String(i), keep);
    await kills;
    await expect.poll(() => b.delivered.length, { timeout: 10_000 }).toBe(200);
    expect(b.delivered.map((p) => Number(p.data))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(b.logs.some((l) => l.context.code === 'engine_disconnected' && l.context.connection === 'listening')).toBe(true);
  });
});
