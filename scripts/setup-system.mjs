#!/usr/bin/env node
// `npm test`'s set-up (its `pretest`), as `npx playwright install --with-deps` would do elsewhere:
// checks for the system programs the tests run and, when some are missing and this runs as root with
// apt-get, installs their Debian packages, saying so. Otherwise it stops at once (exit 1) naming the
// command to run. `--dry-run` prints what it would do and changes nothing.
// `--bench`: `npm run bench`'s set-up (its `prebench`) instead: the C compiler for the load generator
// and Go with the Debian packages of the Go peers (gorilla's chat hub, Centrifuge); without root it
// names what to install and lets the bench run, which then skips those rows saying why.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dryRun = process.argv.includes('--dry-run');
const bench = process.argv.includes('--bench');

/** An executable file at `path`? */
function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first `name` on PATH, or null. */
function which(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  return null;
}

function say(line) {
  process.stdout.write(`setup: ${line}\n`);
}

function stop(lines) {
  process.stderr.write(`setup: ${lines.join('\nsetup: ')}\n`);
  process.exit(1);
}

// The project's own dependencies come first: nothing below helps without them.
if (!executable(join(root, 'node_modules', '.bin', 'vitest'))) {
  stop(['node_modules is missing or incomplete. Run:', '  npm ci']);
}

const chromium = process.env.CHROMIUM_PATH;
if (chromium !== undefined && !executable(chromium)) {
  stop([`CHROMIUM_PATH=${chromium} is not an executable file.`,
    'Point it at a Chromium, or unset it to use /usr/bin/chromium (apt-get install -y chromium).']);
}

/** A file or folder at `path`? */
function exists(path) {
  try {
    accessSync(path);
    return true;
  } catch {
    return false;
  }
}

/** What the bench runs besides Node: the load generator's compiler, OpenSSL's headers for the limit server, Go and the Go peers' libraries. */
const benchNeeds = [
  { what: 'cc', for: 'the C load generator (bench/loadgen.c)', package: 'gcc', present: () => which('cc') !== null },
  { what: 'openssl/evp.h', for: 'the limit server (bench/servers/limit.c, linked with libcrypto)', package: 'libssl-dev', present: () => exists('/usr/include/openssl/evp.h') },
  { what: 'go', for: 'the Go peers (bench/servers/gohub, bench/servers/centrifuge)', package: 'golang-go', present: () => which('go') !== null },
  ...[
    ['github.com/gorilla/websocket', 'golang-github-gorilla-websocket-dev'],
    ['github.com/centrifugal/centrifuge', 'golang-github-centrifugal-centrifuge-dev'],
    ['github.com/centrifugal/protocol', 'golang-github-centrifugal-protocol-dev'],
    ['github.com/igm/sockjs-go', 'golang-github-igm-sockjs-go-dev'],
    ['github.com/mna/redisc', 'golang-github-mna-redisc-dev'],
    ['github.com/FZambia/eagle', 'golang-github-fzambia-eagle-dev'],
  ].map(([path, pkg]) => ({ what: path, for: 'the Go peers (Debian does not pull in centrifuge\'s own dependencies)', package: pkg, present: () => exists(join('/usr/share/gocode/src', path)) })),
];

/** What the tests run: how each is found, and the Debian package that provides it. */
const testNeeds = [
  { what: '/usr/bin/chromium', for: 'the e2e tests (or set CHROMIUM_PATH)', package: 'chromium',
    present: () => chromium !== undefined || executable('/usr/bin/chromium') },
  { what: 'redis-server', for: 'the Redis engine tests, which start their own to restart it', package: 'redis-server',
    present: () => which('redis-server') !== null },
  { what: 'mosquitto_sub', for: 'the MQTT tests, which check the transport with Mosquitto\'s own clients', package: 'mosquitto-clients',
    present: () => which('mosquitto_sub') !== null && which('mosquitto_pub') !== null },
  { what: 'turnserver', for: 'the WebRTC tests, which check TURN credentials against coturn (turnserver, turnutils_uclient)', package: 'coturn',
    present: () => which('turnserver') !== null && which('turnutils_uclient') !== null },
];

const needs = bench ? benchNeeds : testNeeds;
const what = bench ? 'the bench' : 'the tests';
const missing = needs.filter((need) => !need.present());
if (missing.length === 0) {
  if (dryRun) say(`everything ${what} ${bench ? 'needs' : 'need'} is installed; nothing to do`);
  process.exit(0);
}

const packages = missing.map((need) => need.package);
const reasons = missing.map((need) => `${need.what} (${need.for})`);
const asRoot = process.getuid?.() === 0;
const aptGet = which('apt-get');

if (!asRoot || aptGet === null) {
  (bench ? (lines) => { say(lines.join('\nsetup: ')); say('the bench runs without them and skips what needs them'); process.exit(0); } : stop)([
    `missing: ${reasons.join('; ')}.`,
    aptGet === null
      ? `Install the Debian/Ubuntu packages ${packages.join(' ')} (or their equivalents on this system), then run npm ${bench ? 'run bench' : 'test'} again.`
      : `Install them, then run npm ${bench ? 'run bench' : 'test'} again:`,
    ...(aptGet === null ? [] : [`  sudo apt-get install -y ${packages.join(' ')}`]),
  ]);
}

say(`missing: ${reasons.join('; ')}.`);
say(`${dryRun ? 'would install' : 'installing'} ${packages.join(' ')} with apt-get`);
if (dryRun) process.exit(0);

const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
for (const args of [['update', '-qq'], ['install', '-y', '-qq', ...packages]]) {
  say(`apt-get ${args.join(' ')}`);
  const result = spawnSync(aptGet, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) stop([`apt-get ${args.join(' ')} failed (exit ${result.status ?? result.signal}).`]);
}

const still = missing.filter((need) => !need.present());
if (still.length > 0) stop([`still missing after apt-get: ${still.map((need) => need.what).join(', ')}.`]);
say(`installed ${packages.join(' ')}`);
