import { spawnSync } from 'node:child_process';

/**
 * The Go servers of the benchmark, each built once into the runner's cache with Debian's golang-go
 * and the library's Debian package, in GOPATH mode (GO111MODULE=off): nothing is downloaded. Each
 * runs with GOMAXPROCS=1 and is driven by the C load generator only.
 */
export type GoServer = 'gohub' | 'centrifuge';

/** What to install when a build fails (Debian package names). */
const PACKAGES: Record<GoServer, string> = {
  gohub: 'golang-go golang-github-gorilla-websocket-dev',
  centrifuge: 'golang-go golang-github-centrifugal-centrifuge-dev golang-github-centrifugal-protocol-dev ' +
    'golang-github-igm-sockjs-go-dev golang-github-mna-redisc-dev golang-github-fzambia-eagle-dev',
};

export type GoBuild = { program: string } | { skipped: string };

const built = new Map<GoServer, GoBuild>();

/** Builds bench/servers/<name>/main.go into `cache` (once per run); says why not when it cannot. */
export function goServer(name: GoServer, cache: string, nativeGenerator: boolean): GoBuild {
  const known = built.get(name);
  if (known) return known;
  let result: GoBuild;
  if (!nativeGenerator) result = { skipped: 'skipped: the Node load generator does not speak its protocol (needs cc for bench/loadgen.c)' };
  else {
    const program = `${cache}/${name}`;
    const build = spawnSync('go', ['build', '-o', program, `bench/servers/${name}/main.go`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, GO111MODULE: 'off', GOFLAGS: '', GOPATH: process.env.GOPATH ?? '/usr/share/gocode' },
    });
    if (build.status === 0) result = { program };
    else {
      const why = build.error ? 'no Go toolchain' : (build.stderr?.toString().trim().split('\n').find((l) => !l.startsWith('#')) ?? 'go build failed');
      result = { skipped: `skipped: ${why.replace(/ in any of:$/, '').replaceAll('|', '/').slice(0, 160)} (apt-get install ${PACKAGES[name]})` };
    }
  }
  built.set(name, result);
  return result;
}
