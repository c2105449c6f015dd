import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** The Redis the tests use: REDIS_URL, else 127.0.0.1:6379; fails naming what is missing. */
export async function sharedRedisUrl(): Promise<string> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    return url;
  } catch {
    // None answers: run our own.
    const own = await startRedis();
    return own.url;
  } finally {
    probe.disconnect();
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A private redis-server on a free port (no persistence), for tests that stop or restart Redis. */
export interface OwnRedis {
  url: string;
  port: number;
  /** Sends a signal to the redis-server (SIGSTOP freezes it, SIGCONT resumes it). */
  signal: (signal: NodeJS.Signals) => void;
  stop: () => Promise<void>;
}

export async function startRedis(port?: number): Promise<OwnRedis> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error('redis-server is missing: install Debian\'s redis-server (apt-get install -y redis-server) or set REDIS_URL');
  }
  const chosen = port ?? await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${chosen}`;
  const deadline = Date.now() + 5000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    probe.on('error', () => {});
    try { await probe.connect(); await probe.ping(); probe.disconnect(); break; } catch { probe.disconnect(); }
    if (Date.now() > deadline) throw new Error(`redis-server did not start on ${chosen}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url, port: chosen,
    signal: (signal) => { if (child.exitCode === null && child.signalCode === null) child.kill(signal); },
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    }),
  };
}
