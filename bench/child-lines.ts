import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Reads a child process's stdout line by line; the returned function waits (up to `timeoutMs`) for the
 * next line starting with `prefix`, taking it from the lines already read if one came first.
 */
export function lines(child: ChildProcess) {
  const queue: string[] = [];
  const waiters: Array<{ prefix: string; resolve: (line: string) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const at = waiters.findIndex((w) => line.startsWith(w.prefix));
    if (at >= 0) waiters.splice(at, 1)[0]!.resolve(line); else queue.push(line);
  });
  return (prefix: string, timeoutMs: number) => new Promise<string>((resolve, reject) => {
    const queued = queue.findIndex((l) => l.startsWith(prefix));
    if (queued >= 0) return resolve(queue.splice(queued, 1)[0]!);
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${prefix}`)), timeoutMs);
    waiters.push({ prefix, resolve: (line) => { clearTimeout(timer); resolve(line); } });
  });
}
