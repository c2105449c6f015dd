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
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({
      cpuMicros: cpu.user + cpu.system,
      rss: process.memoryUsage.rss(),
      heapUsed: process.memoryUsage().heapUsed,
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

export function announce(port: number): void {
  console.log(`READY ${port}`);
}
