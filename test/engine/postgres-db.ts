import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../redis.js';

/**
 * PostgreSQL for the tests: a database of their own on the shared server (127.0.0.1:5432, trust
 * auth), dropped after; and a private server (initdb + pg_ctl in a temporary folder on a free port)
 * for tests that stop, freeze or restart the database.
 */

const SHARED = process.env.LIVEHUB_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Creates `livehub_test_<random>` on the shared server; `drop()` removes it (closing its connections). */
export async function testDatabase(server = SHARED): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `livehub_test_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const c = new pg.Client({ connectionString: server });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export interface OwnPostgres {
  url: string;
  port: number;
  /** Sends a signal to every process of the server (SIGSTOP freezes it, SIGCONT resumes it). */
  signal(signal: NodeJS.Signals): void;
  /** Stops the server (fast shutdown: connections are closed). */
  stop(): void;
  /** Starts it again on the same port, with its data. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  remove(): void;
}

/** A private PostgreSQL server (run as the postgres user when the tests run as root). */
export async function startPostgres(): Promise<OwnPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'livehub-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const root = process.getuid?.() === 0;
  const ids = root ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) } : {};
  if (root) chownSync(dir, ids.uid!, ids.gid!);
  execFileSync('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync'], { ...ids, stdio: 'pipe' });
  const ctl = (...args: string[]) => execFileSync('pg_ctl', ['-D', data, ...args], { ...ids, stdio: 'pipe' });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const start = async () => {
    ctl('-w', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start');
  };
  await start();
  const pids = (): number[] => {
    if (!existsSync(join(data, 'postmaster.pid'))) return [];
    const main = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(main)]).toString().split('\n').map(Number).filter((n) => n > 0);
    return [main, ...children];
  };
  const stop = () => { try { ctl('-w', '-m', 'fast', 'stop'); } catch { /* already stopped */ } };
  return {
    url, port, start, stop,
    signal: (signal) => { for (const pid of pids()) { try { process.kill(pid, signal); } catch { /* gone */ } } },
    remove: () => {
      try { pids().forEach((pid) => process.kill(pid, 'SIGCONT')); } catch { /* not running */ }
      stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
