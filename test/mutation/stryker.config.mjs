/**
 * StrykerJS for one target of scripts/mutation.mjs, which sets LIVEHUB_MUTATION_FILES (what to
 * mutate), LIVEHUB_MUTATION_TESTS (the tests that judge it) and LIVEHUB_MUTATION_NAME (the report's
 * name). Run it through `npm run mutation`, not directly.
 */
const name = process.env.LIVEHUB_MUTATION_NAME;
const files = (process.env.LIVEHUB_MUTATION_FILES ?? '').split(',').filter(Boolean);
if (!name || files.length === 0) throw new TypeError('run mutation testing with "npm run mutation"');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'test/mutation/vitest.config.ts', related: false },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: files,
  coverageAnalysis: 'perTest',
  concurrency: Number(process.env.LIVEHUB_MUTATION_CONCURRENCY ?? 2),
  timeoutMS: 20_000,
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  tempDirName: `.stryker-tmp/${name}`,
  cleanTempDir: 'always',
  ignorePatterns: ['dist', 'docs/.vitepress/dist', 'docs/.vitepress/cache', 'examples/chat/dist', 'reports', '.stryker-tmp'],
  thresholds: { high: 90, low: 85, break: null },
};
