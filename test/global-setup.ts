import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Fails early, naming what is missing, instead of letting tests fail obscurely. */
export default function setup(): void {
  const wasm = fileURLToPath(new URL('../build/codec.wasm', import.meta.url));
  if (!existsSync(wasm)) throw new Error('build/codec.wasm is missing: run "npm run build:wasm" (npm test does this first)');
}
