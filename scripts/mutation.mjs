#!/usr/bin/env node
/**
 * Mutation testing of livehub's core with StrykerJS: each target mutates its files and judges every
 * mutant with the tests written for them only. Slow (minutes a target), so not part of `npm test`.
 *
 *   npm run mutation                 every target
 *   npm run mutation -- loop limits  the named targets
 *   npm run mutation -- --list       the targets, their files and tests
 *   npm run mutation -- --concurrency 1 publisher
 *                                    one test runner at a time (default 2; also
 *                                    LIVEHUB_MUTATION_CONCURRENCY=1)
 *
 * Reports: reports/mutation/<target>.html (every mutant, in the code) and summary.md (the scores).
 * Exits 1 when a target scores under its goal.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

/** Test files of the hub core, by name. */
const core = (...names) => names.map((name) => `test/core/${name}.test.ts`);

/** What each target mutates, the tests that judge it, and the score it must reach. */
export const targets = {
  limits: {
    files: ['pkg/core/limits.ts', 'pkg/protocol/json-shape.ts', 'pkg/token-bucket.ts'],
    tests: ['test/core/limits.test.ts', 'test/protocol/json-shape.test.ts', 'test/token-bucket.test.ts'],
    goal: 85,
  },
  memory: {
    files: ['pkg/engine/memory.ts'],
    tests: ['test/engine/memory.test.ts', 'test/engine/memory-edges.test.ts'],
    goal: 85,
  },
  subscriptions: {
    files: ['client/subscriptions.ts'],
    tests: ['subscriptions', 'live-client', 'subscribe-retry', 'gaps', 'connecting', 'core', 'heartbeat', 'refusals', 'original-spec', 'dialect', 'sse-transport', 'live-client-requests']
      .map((name) => `test/client/${name}.test.ts`),
    goal: 85,
  },
  loop: {
    files: ['pkg/core/loop.ts'],
    tests: core('loop-edges', 'loop-answers', 'loop-leaving', 'loop-events', 'loop-plain', 'loop-reset', 'loop-fanout', 'hub-state', 'hub', 'publish', 'recovery', 'streams', 'filtering', 'drain', 'events', 'user-channel', 'replay-limits', 'presence', 'hot-path', 'patterns'),
    goal: 90,
  },
  session: {
    files: ['pkg/core/session.ts', 'pkg/core/streams.ts', 'pkg/core/writes.ts'],
    // Their unit tests and the hub over fake sockets: every test over real sockets (drain, recovery,
    // replay limits, heartbeat) runs a session, and judging each mutant by them all took over an hour.
    tests: core('session', 'writes', 'streams', 'hub-state'),
    goal: 85,
  },
  router: {
    files: ['pkg/core/router.ts', 'pkg/core/policy.ts'],
    tests: [...core('router', 'policy', 'hub', 'handlers', 'publish', 'commands', 'user-channel'), 'test/hostile/messages.test.ts'],
    goal: 85,
  },
  publisher: {
    files: ['pkg/core/publisher.ts'],
    tests: core('publisher', 'publish', 'publish-tags', 'recovery'),
    goal: 85,
  },
  presence: {
    files: ['pkg/core/presence.ts'],
    tests: core('presence-unit', 'presence', 'hub-state'),
    goal: 85,
  },
};

const args = process.argv.slice(2);
const concurrencyAt = args.indexOf('--concurrency');
let concurrency = process.env.LIVEHUB_MUTATION_CONCURRENCY;
if (concurrencyAt >= 0) {
  concurrency = args[concurrencyAt + 1] ?? '';
  args.splice(concurrencyAt, 2);
}
if (concurrency !== undefined && !/^[1-9][0-9]*$/.test(concurrency)) {
  console.error(`--concurrency (or LIVEHUB_MUTATION_CONCURRENCY) must be a whole number of test runners >= 1, got ${JSON.stringify(concurrency ?? '')}`);
  process.exit(2);
}
if (args.includes('--list')) {
  for (const [name, t] of Object.entries(targets)) console.log(`${name} (goal ${t.goal}%)\n  mutates ${t.files.join(' ')}\n  judged by ${t.tests.join(' ')}`);
  process.exit(0);
}
const unknown = args.filter((a) => !(a in targets));
if (unknown.length > 0) {
  console.error(`unknown target ${unknown.join(', ')}: the targets are ${Object.keys(targets).join(', ')}`);
  process.exit(2);
}
const chosen = args.length > 0 ? args : Object.keys(targets);

mkdirSync('reports/mutation', { recursive: true });
const rows = [];
for (const name of chosen) {
  const t = targets[name];
  console.log(`\n== ${name}: ${t.files.join(', ')}`);
  const run = spawnSync('npx', ['stryker', 'run', 'test/mutation/stryker.config.mjs'], {
    stdio: 'inherit',
    env: { ...process.env, ...(concurrency ? { LIVEHUB_MUTATION_CONCURRENCY: concurrency } : {}), LIVEHUB_MUTATION_NAME: name, LIVEHUB_MUTATION_FILES: t.files.join(','), LIVEHUB_MUTATION_TESTS: t.tests.join(',') },
  });
  if (run.status !== 0) {
    rows.push({ name, goal: t.goal, error: `stryker exited ${run.status}` });
    continue;
  }
  const report = JSON.parse(readFileSync(`reports/mutation/${name}.json`, 'utf8'));
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const count = (s) => mutants.filter((m) => m.status === s).length;
    const killed = count('Killed') + count('Timeout');
    const survived = count('Survived');
    const noCoverage = count('NoCoverage');
    const ignored = count('Ignored');
    const valid = killed + survived + noCoverage;
    rows.push({ name, goal: t.goal, file, killed, survived, noCoverage, ignored, score: valid === 0 ? 100 : (100 * killed) / valid });
  }
}

const lines = [
  `# Mutation scores (${new Date().toISOString().slice(0, 10)})`,
  '',
  '| target | file | killed | survived | no test reaches it | marked equivalent | score | goal |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((r) =>
    r.error
      ? `| ${r.name} | ${r.error} | | | | | | ${r.goal}% |`
      : `| ${r.name} | \`${r.file}\` | ${r.killed} | ${r.survived} | ${r.noCoverage} | ${r.ignored} | ${r.score.toFixed(1)}% | ${r.goal}% |`,
  ),
];
writeFileSync('reports/mutation/summary.md', lines.join('\n') + '\n');
console.log('\n' + lines.join('\n'));
const missed = rows.filter((r) => r.error || r.score < r.goal);
if (missed.length > 0) {
  console.error(`\nunder the goal: ${missed.map((r) => r.file ?? r.name).join(', ')} (see reports/mutation/*.html)`);
  process.exit(1);
}
