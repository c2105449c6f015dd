import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { fileLimitWarnAt, openFiles, openFilesLimit } from '../../pkg/core/file-limit.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('the open-files limit', () => {
  it('is read as the soft limit from /proc/self/limits, and as unknown where unlimited or unreadable', () => {
    expect(openFilesLimit(() => LIMITS)).toBe(1024);
    expect(openFilesLimit(() => LIMITS.replace('1024   ', 'unlimited'))).toBeNull();
    expect(openFilesLimit(() => { throw new Error('ENOENT'); })).toBeNull();
    expect(openFiles(() => ['0', '1', '2'])).toBe(3);
    expect(openFiles(() => { throw new Error('ENOENT'); })).toBe(0);
  });

  it('warns at 90% of what the limit leaves beside the files open, unless maxConnections refuses first', () => {
    expect(fileLimitWarnAt(1024, 100_000, 24)).toBe(900);
    expect(fileLimitWarnAt(1024, 500, 24)).toBe(Infinity);
    expect(fileLimitWarnAt(null, 100_000, 24)).toBe(Infinity);
  });
});

const script = fileURLToPath(new URL('./limited-hub.ts', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const sockets: WebSocket[] = [];
const children: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** A hub in a process allowed `files` open files; resolves with its port and what it logged. */
async function limitedHub(files: number, options: object) {
  const child = spawn('bash', ['-c', `ulimit -n ${files} && exec "$0" --import tsx "$1" "$2"`, process.execPath, script, JSON.stringify(options)], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const log = { text: '' };
  child.stderr!.on('data', (d) => { log.text += d; });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { const m = /PORT (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); });
    child.once('exit', (code) => reject(new Error(`the hub exited (${code}): ${log.text}`)));
  });
  return { port, log };
}

async function connect(port: number, count: number): Promise<number> {
  let open = 0;
  await Promise.all(Array.from({ length: count }, () => new Promise<void>((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    sockets.push(ws);
    ws.once('open', () => { open++; resolve(); });
    ws.once('error', () => resolve());
    ws.once('close', () => resolve());
  })));
  return open;
}

describe('a hub near its open-files limit', () => {
  it('says so, naming the limit and what to change, before connections start failing', async () => {
    const { port, log } = await limitedHub(150, {});
    const open = await connect(port, 140);
    await expect.poll(() => log.text, { timeout: 5000 }).toContain('connections are open and this process may open at most 150 files (ulimit -n)');
    expect(log.text).toContain('LimitNOFILE');
    expect(open).toBeLessThan(140); // past the limit connections failed, and only the warning said so
  });

  it('stays quiet when maxConnections refuses with 503 before the limit is near', async () => {
    const { port, log } = await limitedHub(150, { maxConnections: 40 });
    expect(await connect(port, 40)).toBe(40);
    await new Promise((r) => setTimeout(r, 300));
    expect(log.text).not.toContain('ulimit');
  });
});
