import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Open-file limits for rows with many connections (W7): each connection is a file descriptor in the
 * server and one in the load generator, so both need RLIMIT_NOFILE above the connection count. Node
 * and Go raise their soft limit to the hard one at startup, and the C generator does too, so what
 * matters is the hard limit they inherit from the runner. The runner raises its own with
 * `prlimit --pid` (util-linux) when it may (root with CAP_SYS_RESOURCE, up to fs.nr_open); its
 * children then inherit it.
 */

/** Descriptors beyond the connections: the listening socket, stdio, the publisher, Redis, the stats requests. */
export const SPARE_FILES = 1024;

/** The runner's hard open-files limit (Infinity for unlimited). */
export function hardFileLimit(): number {
  const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  if (!line) return Infinity;
  return line[2] === 'unlimited' ? Infinity : Number(line[2]);
}

function sysctl(name: string): number | null {
  try {
    return Number(readFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return null;
  }
}

export type FilePlan = { ok: true; limit: number; raised: boolean } | { ok: false; limit: number; why: string };

/**
 * Makes sure processes spawned from now on may open `needed` files: raises the runner's own hard
 * limit if it is lower. Says why not, and what to run, when it cannot.
 */
export function ensureFileLimit(needed: number): FilePlan {
  const before = hardFileLimit();
  if (before >= needed) return { ok: true, limit: before, raised: false };
  const run = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${needed}:${needed}`], { encoding: 'utf8' });
  const after = hardFileLimit();
  if (after >= needed) return { ok: true, limit: after, raised: true };
  const nrOpen = sysctl('fs.nr_open');
  const cause = run.error
    ? 'prlimit (util-linux) is not installed'
    : `prlimit: ${(run.stderr || 'failed').trim().replace(/^prlimit: (failed to set the NOFILE resource limit: )?/, '')}` +
      (nrOpen !== null && nrOpen < needed ? `; fs.nr_open is ${nrOpen}: sysctl -w fs.nr_open=${needed}` : '; raising it needs CAP_SYS_RESOURCE');
  return {
    ok: false,
    limit: before,
    why: `${needed.toLocaleString('en-US')} open files needed per process, hard limit ${before.toLocaleString('en-US')} (${cause}); ` +
      `run the bench from a shell allowed more: as root \`prlimit --pid $$ --nofile=${needed}:${needed}\`, in Docker \`--ulimit nofile=${needed}:${needed}\``,
  };
}

/**
 * What else bounds many loopback connections on this machine, for the log (null: nothing found). The
 * C generator keeps 200 handshakes in flight (PARALLEL_SETUPS), under the servers' listen backlog
 * (Node's default 511), and binds its subscribers to 1,000 per 127.0.0.0/8 source address, far from
 * ip_local_port_range's ~28k ports per address.
 */
export function connectionLimits(connections: number, parallel = 200): string | null {
  const found: string[] = [];
  const somaxconn = sysctl('net.core.somaxconn');
  if (somaxconn !== null && somaxconn < parallel) {
    found.push(`net.core.somaxconn ${somaxconn} caps the listen backlog below the generator's ${parallel} connects in flight (sysctl -w net.core.somaxconn=4096)`);
  }
  const fileMax = sysctl('fs.file-max');
  if (fileMax !== null && fileMax < 2 * connections + 10_000) found.push(`fs.file-max ${fileMax} is below two descriptors per connection (sysctl -w fs.file-max=${4 * connections})`);
  const conntrack = sysctl('net.netfilter.nf_conntrack_max');
  if (conntrack !== null && conntrack < connections + 10_000) found.push(`net.netfilter.nf_conntrack_max ${conntrack}: connections past it are dropped where conntrack tracks loopback (sysctl -w net.netfilter.nf_conntrack_max=${2 * connections})`);
  return found.length ? found.join('; ') : null;
}
