/**
 * The vitest configuration mutation testing runs with: the project's own, with only the test files
 * the target names (LIVEHUB_MUTATION_TESTS, comma separated), so each mutant is judged by the tests
 * written for its file and a run stays minutes, not hours.
 */
import { defineConfig } from 'vitest/config';
import base from '../../vite.config.js';

const tests = (process.env.LIVEHUB_MUTATION_TESTS ?? '').split(',').filter(Boolean);
if (tests.length === 0) throw new TypeError('LIVEHUB_MUTATION_TESTS is empty: run mutation testing with "npm run mutation"');

// Replaced, not merged: merging would add these files to the project's whole list.
export default defineConfig({ ...base, test: { ...base.test, include: tests } });
