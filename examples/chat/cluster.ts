import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';

/**
 * The chat on every core: with `WORKERS=n` (or `WORKERS=auto`, one per core) the process started is
 * the primary of a node:cluster. It serves nothing itself: it forks n workers, each running the whole
 * chat (its own hub) on the same port, and the primary hands each new connection to the next worker.
 * The workers are nodes like the processes of separate machines: they share channels, presence,
 * history, publishes and logouts through the engine (Redis or PostgreSQL), so a client may land on
 * any of them and needs no sticky routing.
 *
 * SIGTERM (or SIGINT) to the primary goes to every worker, which drains (its clients get 1012 and
 * reconnect) and exits; the primary exits once they all have. A worker that dies on its own is
 * replaced; one that dies before it ever listened stops the whole cluster (a bad setting, not a crash).
 */

/** The number of workers WORKERS asks for; null when it is not set (one process, no cluster). */
export function workerCount(value: string | undefined): number | null {
  if (value === undefined || value === '') return null;
  if (value === 'auto') return availableParallelism();
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`WORKERS must be a whole number of processes (1 or more) or "auto" (one per core: ${availableParallelism()} here), got ${JSON.stringify(value)}`);
  }
  return count;
}

/** Why these settings cannot run as several workers, or null when they can. */
export function clusterRefusal(env: NodeJS.ProcessEnv): string | null {
  if (!env.REDIS_URL && !env.DATABASE_URL) {
    return 'WORKERS needs REDIS_URL or DATABASE_URL: the workers share channels, presence and history through that engine; with the memory engine each worker would be a separate chat';
  }
  if (env.AUTH === 'jwt' && !env.REDIS_URL) {
    return 'WORKERS with AUTH=jwt needs REDIS_URL: logouts are kept there for every worker to see (token-versions.ts); a file or memory store would let a logged-out cookie in on the other workers';
  }
  return null;
}

/**
 * In the primary with WORKERS set: checks the settings, forks the workers and returns true (this
 * process then runs no chat). In a worker, or without WORKERS: returns false, and the caller runs the
 * chat. Bad settings end the process with status 1 and a line saying what to set.
 */
export function startWorkers(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!cluster.isPrimary) return false;
  let count: number | null;
  try {
    count = workerCount(env.WORKERS);
  } catch (error) {
    return refuse((error as Error).message);
  }
  if (count === null) return false;
  const refusal = clusterRefusal(env);
  if (refusal) return refuse(refusal);
  // Every worker must verify every other worker's cookies: one secret for all (or the one given).
  const shared = env.AUTH === 'jwt' && !env.JWT_SECRET ? { JWT_SECRET: randomBytes(32).toString('base64url') } : {};
  // Counted here: cluster.workers may still hold a worker whose 'exit' came before its 'disconnect'.
  const alive = new Set<Worker>();
  const listening = new Set<Worker>();
  let stopping: NodeJS.Signals | null = null;
  let failed = false;
  let announced = false;

  const fork = () => {
    const worker = cluster.fork(shared);
    alive.add(worker);
    return worker;
  };
  cluster.on('listening', (worker, address) => {
    listening.add(worker);
    if (announced || listening.size < count) return;
    announced = true;
    console.log(`livehub chat: primary pid ${process.pid}, ${count} workers on http://localhost:${address.port}`);
  });
  cluster.on('exit', (worker, code, signal) => {
    const how = signal ? `signal ${signal}` : `status ${code}`;
    alive.delete(worker);
    if (stopping) {
      console.log(`livehub chat: worker pid ${worker.process.pid} exited (${how})`);
      if (code !== 0) failed = true;
      if (alive.size === 0) process.exit(failed ? 1 : 0);
      return;
    }
    if (!listening.has(worker)) {
      // It never served: the next one would fail the same way. Stop the others and say so.
      console.error(`livehub chat: worker pid ${worker.process.pid} exited (${how}) before it listened; stopping (see its error above)`);
      failed = true;
      stop('SIGTERM');
      if (alive.size === 0) process.exit(1);
      return;
    }
    listening.delete(worker);
    const next = fork();
    console.error(`livehub chat: worker pid ${worker.process.pid} exited (${how}); its clients reconnect to the others; started worker pid ${next.process.pid} in its place`);
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = signal;
    console.log(`livehub chat: ${signal}, stopping ${alive.size} workers`);
    for (const worker of alive) worker.process.kill(signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  for (let i = 0; i < count; i++) fork();
  return true;
}

function refuse(message: string): true {
  console.error(`livehub chat: ${message}`);
  process.exitCode = 1;
  return true;
}

/** How a worker names itself in its start-up line: its pid, so each line says which process serves. */
export const workerLabel = (node: string) => (cluster.isWorker ? ` (worker pid ${process.pid}, node ${node})` : '');
