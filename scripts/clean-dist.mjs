// Empties dist/ before `tsc -p tsconfig.build.json`, so a source file deleted or renamed since the
// last build never reaches the package.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

rmSync(fileURLToPath(new URL('../dist', import.meta.url)), { recursive: true, force: true });
