import type { IncomingMessage, ServerResponse } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * `/__bench/stats` and `/__bench/reset`, served by every bench server so the runner can read CPU,
 * memory and event-loop delay of the server process over plain HTTP.
 */
export function statsHandler(extra: () => Record<string, number> = () => ({})) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.url === '/__bench/reset') {
      delay.reset();
      res.end('ok');
      return true;
    }
    if (req.url !== '/__bench/stats') return false;
    if (typeof globalThis.gc === 'function') globalThis.gc();
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({
      cpuMicros: cpu.user + cpu.system,
      // After a full GC: V8's heap (used, and committed), memory outside it held by JS objects
      // (external, of which Buffers' arrayBuffers), and the process's RSS (the rest is native: libuv,
      // Node's C++ wrappers, malloc, code).
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      eldP99Ms: delay.percentile(99) / 1e6,
      eldMaxMs: delay.max / 1e6,
      ...extra(),
    }));
    return true;
  };
}

export function portArg(): number {
  const i = process.argv.indexOf('--port');
  return i >= 0 ? Number(process.argv[i + 1]) : Number(process.env.PORT ?? 0);
}

/**
 * `--backlog N`: the listen queue a storm node asks for (undefined without it: Node's default, 511;
 * Linux caps it at net.core.somaxconn). `server` names the node in the TypeError a bad N throws.
 */
export function backlogArg(server: string): number | undefined {
  const i = process.argv.indexOf('--backlog');
  if (i < 0) return undefined;
  const backlog = Number(process.argv[i + 1]);
  if (!(Number.isInteger(backlog) && backlog > 0)) throw new TypeError(`${server}: --backlog takes a positive integer, not ${process.argv[i + 1]}`);
  return backlog;
}

export function announce(port: number): void {
  console.log(`READY ${port}`);
}
