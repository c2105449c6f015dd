import { spawnSync } from 'node:child_process';

/**
 * The limit (bench/servers/limit.c): a C reference server doing the least work livehub's wire
 * needs, built once per run with cc into the runner's cache and linked with OpenSSL's libcrypto (for
 * the upgrade's SHA-1). Driven by the C load generator only, like the Go servers.
 */
export type NativeBuild = { program: string } | { skipped: string };

let built: NativeBuild | undefined;

/** Builds the limit server into `cache` (once per run); says why not when it cannot. */
export function limitServer(cache: string, nativeGenerator: boolean): NativeBuild {
  if (built) return built;
  if (!nativeGenerator) return (built = { skipped: 'skipped: the limit server runs with the C load generator only (needs cc for bench/loadgen.c)' });
  const program = `${cache}/limit`;
  const build = spawnSync('cc', ['-O2', '-o', program, 'bench/servers/limit.c', 'bench/servers/limit-wire.c', '-lcrypto'], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (build.status === 0) return (built = { program });
  const why = build.error ? 'no C compiler (cc)' : (build.stderr?.toString().trim().split('\n').find((l) => /error/.test(l)) ?? 'cc failed');
  return (built = { skipped: `skipped: ${why.replaceAll('|', '/').slice(0, 160)} (apt-get install gcc libssl-dev)` });
}
