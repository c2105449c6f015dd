import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { EventSource } from 'eventsource';
import { afterEach, expect } from 'vitest';
import { Peer } from '../helpers.js';

/**
 * The example chat run as its users run it, `node --import tsx examples/chat/server.ts`, with the
 * environment given (WORKERS=n for a cluster), its output kept line by line.
 */

const script = fileURLToPath(new URL('../../examples/chat/server.ts', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
/** Starting node with tsx in every worker takes seconds on a loaded machine. */
const START = 60_000;

export interface ChatProcess {
  child: ChildProcess;
  /** stdout and stderr, line by line, as they came. */
  lines: string[];
  /** Resolves with how the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits for a line matching `pattern` (polling the output) and returns its match. */
  line(pattern: RegExp, timeout?: number): Promise<RegExpExecArray>;
}

export interface ChatCluster extends ChatProcess {
  port: number;
  base: string;
  ws: string;
  primaryPid: number;
  /** Each worker's pid by its hub's node id, from the workers' start-up lines. */
  workers: Map<string, number>;
}

const started: ChildProcess[] = [];
const workerPids: number[] = [];
afterEach(() => {
  // Whatever a test left running: the primary, and its workers by pid.
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of workerPids.splice(0)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

export function runChat(env: Record<string, string>): ChatProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  const lines: string[] = [];
  const take = (stream: NodeJS.ReadableStream) => {
    let rest = '';
    stream.on('data', (chunk) => {
      const parts = (rest + String(chunk)).split('\n');
      rest = parts.pop()!;
      lines.push(...parts);
    });
  };
  take(child.stdout!);
  take(child.stderr!);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const line = async (pattern: RegExp, timeout = START) => {
    let match: RegExpExecArray | null = null;
    await expect.poll(() => {
      for (const text of lines) if ((match = pattern.exec(text))) return true;
      return false;
    }, { timeout, interval: 50 }).toBe(true);
    return match!;
  };
  return { child, lines, exited, line };
}

const WORKER_LINE = /listening on http:\/\/localhost:(\d+) \(WebSocket at \/ws\) \(worker pid (\d+), node (\w+)\)/;

/** Starts the chat with WORKERS=`count` and waits until the primary says every worker listens. */
export async function startCluster(count: number, env: Record<string, string>): Promise<ChatCluster> {
  const chat = runChat({ WORKERS: String(count), ...env });
  const [, primaryPid, announced, port] = await chat.line(/primary pid (\d+), (\d+) workers on http:\/\/localhost:(\d+)/);
  expect(Number(announced)).toBe(count);
  expect(Number(primaryPid)).toBe(chat.child.pid);
  const workers = new Map<string, number>();
  await expect.poll(() => {
    for (const text of chat.lines) {
      const match = WORKER_LINE.exec(text);
      if (match) workers.set(match[3]!, Number(match[2]));
    }
    return workers.size;
  }, { timeout: START }).toBe(count);
  workerPids.push(...workers.values());
  return { ...chat, port: Number(port), base: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/ws`, primaryPid: Number(primaryPid), workers };
}

/** Reads the worker start-up lines again, for a worker started after the others. */
export function workersIn(lines: string[]): Map<string, number> {
  const workers = new Map<string, number>();
  for (const text of lines) {
    const match = WORKER_LINE.exec(text);
    if (match) workers.set(match[3]!, Number(match[2]));
  }
  return workers;
}

export function rememberWorker(pid: number): void {
  workerPids.push(pid);
}

/** The hub node a WebSocket connection is served by: the prefix of its connection id (`whoami`). */
export async function nodeOf(peer: Peer): Promise<string> {
  const id = `whoami-${Math.random().toString(36).slice(2)}`;
  peer.send({ type: 'whoami', id });
  const reply = await peer.next((m) => m.id === id, 15_000);
  return String(reply.data.connection).split('-')[0]!;
}

/** Opens WebSocket connections until one is on each of `nodes`; closes the others. Returns them by node. */
export async function peerOnEach(url: string, nodes: string[], options: ConstructorParameters<typeof Peer>[1] = {}): Promise<Map<string, Peer>> {
  const found = new Map<string, Peer>();
  for (let tries = 0; found.size < nodes.length; tries++) {
    if (tries >= 30) throw new Error(`30 connections reached only the workers ${[...found.keys()].join(', ')} of ${nodes.join(', ')}`);
    const peer = await Peer.open(url, options);
    const node = await nodeOf(peer);
    if (found.has(node) || !nodes.includes(node)) peer.close();
    else found.set(node, peer);
  }
  return found;
}

/** An HTTP request on a connection of its own (never a kept-alive one), so the primary may hand it to any worker. */
export function freshRequest(url: string, method: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** An SSE client (the eventsource package) on the chat's /events, its livehub events kept in order. */
export function sseClient(url: string) {
  const source = new EventSource(url);
  const got: any[] = [];
  const take = (event: MessageEvent) => {
    const message = JSON.parse(event.data);
    got.push(message);
    // The server ended the stream: do not let the client reconnect behind the test's back.
    if (message.type === 'close') source.close();
  };
  source.addEventListener('livehub', take);
  source.addEventListener('message', take);
  return {
    source,
    got,
    /** Waits for a message matching `match` and returns it. */
    async next(match: (message: any) => boolean, timeout = 15_000): Promise<any> {
      await expect.poll(() => got.some(match), { timeout, interval: 20 }).toBe(true);
      return got.find(match);
    },
  };
}
