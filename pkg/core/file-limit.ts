import { readdirSync, readFileSync } from 'node:fs';

/**
 * The open-files limit, which caps connections below any option: every connection is a file, and a
 * process at its limit cannot accept another: the client waits in the listen queue or is reset, and
 * Node reports nothing. The gate warns before that happens.
 */

/** The share of the limit at which the gate warns. */
export const FILE_LIMIT_WARNING = 0.9;

/** This process's soft open-files limit (Linux: /proc/self/limits), or null where it is unknown or unlimited. */
export function openFilesLimit(read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | null {
  let text: string;
  try {
    text = read();
  } catch {
    return null; // not Linux, or no /proc
  }
  const line = text.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = Number(line?.slice('Max open files'.length).trim().split(/\s+/)[0]); // "unlimited": NaN
  return Number.isInteger(soft) && soft > 0 ? soft : null;
}

/** Files this process has open now (Linux: /proc/self/fd), or 0 where unknown. */
export function openFiles(list: () => string[] = () => readdirSync('/proc/self/fd')): number {
  try {
    return list().length;
  } catch {
    return 0;
  }
}

/**
 * The connection count at which to warn: 90% of what the limit leaves beside the files already open
 * (the app's own: logs, database pools, the listening socket), or never when the limit is unknown
 * or `maxConnections` refuses (503) before the count could get there.
 */
export function fileLimitWarnAt(limit: number | null, maxConnections: number, opened = 0): number {
  if (limit === null) return Infinity;
  const at = Math.max(1, Math.floor((limit - opened) * FILE_LIMIT_WARNING));
  return maxConnections < at ? Infinity : at;
}

export function fileLimitMessage(connections: number, limit: number): string {
  return `livehub: ${connections} connections are open and this process may open at most ${limit} files (ulimit -n); ` +
    'past that it cannot accept new connections and Node logs nothing (clients hang or are reset). Raise the limit where the ' +
    'process starts (systemd LimitNOFILE, docker --ulimit nofile, ulimit -n), or set maxConnections below it so that ' +
    'refusals are 503s that say why';
}
