import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkedBlocks, installedPackages } from './checked-blocks.js';

// What a new user gets: `npm pack` (what `npm publish` ships), installed into a fresh app outside the
// repository with only the packages the README's Install section names.

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };

/** The environment without what `npm test` sets for its own run (npm_config_*, npm_package_*, …). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith('npm_') && key !== 'NODE_ENV' && key !== 'NODE_OPTIONS') env[key] = value;
  }
  return env;
}

/** Runs a command; resolves with its output, or rejects with the command, its exit and its output. */
function run(command: string, args: string[], cwd: string, timeout = 180_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: cleanEnv(), timeout, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} (in ${cwd}) failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .sort();
}

/** Every file an `exports` entry points at (conditions included), as paths inside the package. */
function exportTargets(): string[] {
  const targets: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') targets.push(value.replace(/^\.\//, ''));
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(manifest.exports);
  return targets;
}

const tsc = (dir: string, ...args: string[]) =>
  run(process.execPath, [join(app(), 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir, ...args], dir);

let temp = '';
const app = () => join(temp, 'app');
const installed = () => join(app(), 'node_modules', 'livehub');
let readme = new Map<string, string>();

beforeAll(async () => {
  temp = mkdtempSync(join(tmpdir(), 'livehub-pack-'));
  readme = checkedBlocks(join(root, 'README.md'));
  const install = readme.get('install.sh');
  if (!install) throw new Error('README: no code block marked <!-- checked: install.sh --> (the Install section)');
  const packages = installedPackages(install);
  if (!packages.includes('livehub')) throw new Error('README install.sh never installs livehub');

  // Pack a copy of the working tree without its installs and build outputs (as a fresh clone has it,
  // with the repo's node_modules linked), so the build `npm pack` runs starts from nothing and never
  // rewrites the build/ and dist/ that other test files are reading.
  const source = join(temp, 'source');
  const skipped = new Set(['.git', 'node_modules', 'dist', 'build', 'test-results', join('examples', 'chat', 'dist'),
    join('examples', 'chat-minimal', 'dist'), join('docs', 'api'), join('docs', '.vitepress', 'cache'), join('docs', '.vitepress', 'dist')]);
  cpSync(root, source, { recursive: true, filter: (path) => !skipped.has(relative(root, path)) });
  symlinkSync(join(root, 'node_modules'), join(source, 'node_modules'), 'dir');
  await run('npm', ['pack', '--pack-destination', temp], source);
  const tarball = readdirSync(temp).find((name) => name.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball into ${temp}`);

  const typescript = JSON.parse(readFileSync(join(root, 'node_modules', 'typescript', 'package.json'), 'utf8')) as { version: string };
  mkdirSync(app());
  writeFileSync(join(app(), 'package.json'), JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }, null, 2));
  const specs = packages.map((name) =>
    name === 'livehub' ? join(temp, tarball) : name === 'typescript' ? `typescript@${typescript.version}` : name);
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...specs], app());
}, 300_000);

afterAll(() => {
  if (temp) rmSync(temp, { recursive: true, force: true });
});

describe('the published package, installed in a fresh app', () => {
  it('ships compiled JS and types for every exports path and the WASM codec, and no tests, sources or bench', () => {
    const files = filesUnder(installed());
    for (const target of exportTargets()) expect(files, `exports target ${target}`).toContain(target);
    const unexpected = files.filter((file) => !(
      /^dist\/(pkg|client)\/.+\.(js|js\.map|d\.ts)$/.test(file)
      || ['build/codec.wasm', 'package.json', 'README.md', 'LICENSE'].includes(file)
      || /^docs\/[a-z-]+\.md$/.test(file)));
    expect(unexpected).toEqual([]);
    // Each compiled module comes with its types.
    const js = files.filter((file) => file.endsWith('.js'));
    expect(js.filter((file) => !files.includes(file.replace(/\.js$/, '.d.ts')))).toEqual([]);
  });

  it('ships its MIT license and runs nothing when installed: no install-time script in the published manifest', () => {
    const license = readFileSync(join(installed(), 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License/);
    expect(license).toContain('Copyright (c) 2026 livehub contributors');
    const published = JSON.parse(readFileSync(join(installed(), 'package.json'), 'utf8')) as { license?: string; scripts?: Record<string, string> };
    expect(published.license).toBe('MIT');
    // npm runs these for whoever installs the package (prepare: from a git URL), and warns about them.
    const installTime = ['preinstall', 'install', 'postinstall', 'prepare', 'preprepare', 'postprepare'];
    expect(Object.keys(published.scripts ?? {}).filter((name) => installTime.includes(name))).toEqual([]);
  });

  it('ships source maps that carry their sources, so nothing they point at is missing', () => {
    const maps = filesUnder(installed()).filter((file) => file.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    const incomplete = maps.filter((file) => {
      const map = JSON.parse(readFileSync(join(installed(), file), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      return map.sources.some((source, i) =>
        typeof map.sourcesContent?.[i] !== 'string' && !existsSync(join(installed(), dirname(file), source)));
    });
    expect(incomplete).toEqual([]);
  });

  it('imports every exports subpath in Node', async () => {
    copyFileSync(join(fixtures, 'imports.mjs'), join(app(), 'imports.mjs'));
    const output = await run(process.execPath, ['imports.mjs'], app(), 60_000);
    for (const subpath of Object.keys(manifest.exports)) {
      expect(output).toContain(`livehub${subpath.slice(1)}: ok`);
    }
  }, 120_000);

  it('type-checks a strict consumer (skipLibCheck: false) that passes ws\'s WebSocket to LiveClient without a cast', async () => {
    const dir = join(app(), 'consumer');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(fixtures, 'tsconfig.json'), join(dir, 'tsconfig.json'));
    copyFileSync(join(fixtures, 'consumer.ts'), join(dir, 'consumer.ts'));
    expect(readFileSync(join(dir, 'consumer.ts'), 'utf8')).toContain('new LiveClient(`ws://127.0.0.1:${port}/ws`, { WebSocket })');
    await tsc(dir, '--noEmit');
  }, 120_000);

  it('type-checks every subpath\'s types in a strict browser app (DOM lib)', async () => {
    await tsc(typesApp('subpaths-dom', 'subpaths.ts', ['ES2023', 'DOM', 'DOM.Iterable']), '--noEmit');
  }, 120_000);

  it('type-checks the server and client subpaths\' types in a strict Node app (no DOM lib)', async () => {
    await tsc(typesApp('subpaths-node', 'node-subpaths.ts', ['ES2023']), '--noEmit');
  }, 120_000);

  it('type-checks a tRPC app router mounting livehub/trpc, its procedures typed through to tRPC\'s client', async () => {
    // With the DOM lib: @trpc/client's own types name fetch's RequestInfo (livehub/trpc alone loads
    // without it, in the Node app above).
    await tsc(typesApp('trpc', 'trpc-consumer.ts', ['ES2023', 'DOM']), '--noEmit');
  }, 120_000);

  it('runs a ten-line Express server and Node client that exchange a message over a real socket', async () => {
    const dir = join(app(), 'runner');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(fixtures, 'tsconfig.json'), join(dir, 'tsconfig.json'));
    copyFileSync(join(fixtures, 'consumer.ts'), join(dir, 'consumer.ts'));
    await tsc(dir, '--noCheck');
    const output = await run(process.execPath, [join(dir, 'out', 'consumer.js')], dir, 30_000);
    expect(JSON.parse(output.trim())).toEqual({ type: 'hello', text: 'hi' });
  }, 120_000);

  it('type-checks the README\'s code, copied verbatim, with the packages its Install section names', async () => {
    const dir = readmeApp('readme');
    await tsc(dir, '--noEmit');
  }, 120_000);

  it('runs the README\'s server code: a client subscribed to "orders" gets the order a POST /orders creates', async () => {
    const dir = readmeApp('readme-run');
    await tsc(dir, '--noCheck');
    for (const file of ['readme-harness.mjs', 'readme-client.mjs']) copyFileSync(join(fixtures, file), join(dir, file));
    const server = spawn(process.execPath, ['--import', './readme-harness.mjs', join('out', 'server.js')], { cwd: dir, env: cleanEnv() });
    try {
      const port = await listeningPort(server);
      const output = await run(process.execPath, ['readme-client.mjs', String(port)], dir, 30_000);
      expect(JSON.parse(output.trim())).toEqual({ type: 'created', order: { id: 'order-1' } });
    } finally {
      server.kill('SIGKILL');
    }
  }, 120_000);

  it('type-checks the documentation\'s checked code blocks, copied verbatim, each page as an app of its own', async () => {
    const dir = join(app(), 'docs');
    const pages = docsPages().map((page) => ({ page, files: checkedBlocks(join(root, page)) })).filter(({ files }) => files.size > 0);
    expect(pages.map(({ page }) => page)).toContain('docs/guide/notifications.md');
    for (const { page, files } of pages) {
      const pageDir = join(dir, page.replace(/\.md$/, '').replaceAll('/', '-'));
      mkdirSync(pageDir, { recursive: true });
      for (const [file, code] of files) {
        if (!/\.tsx?$/.test(file)) throw new Error(`${page}: a checked block is named ${file}; only .ts and .tsx blocks are checked`);
        writeFileSync(join(pageDir, file), code);
      }
    }
    const config = JSON.parse(readFileSync(join(fixtures, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown>; include: string[] };
    // The pages' code, as a browser or server app would hold it; libraries' own .d.ts are checked
    // above (laravel-echo's fails skipLibCheck: false on its own).
    Object.assign(config.compilerOptions, { lib: ['ES2023', 'DOM', 'DOM.Iterable'], jsx: 'react-jsx', noEmit: true, skipLibCheck: true });
    config.include = ['*/*.ts', '*/*.tsx'];
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
    await tsc(dir);
  }, 120_000);
});

/** The documentation's own pages (the generated API reference aside), from the repository root. */
function docsPages(): string[] {
  return filesUnder(join(root, 'docs'))
    .filter((file) => file.endsWith('.md') && !file.startsWith('api/') && !file.startsWith('.vitepress/'))
    .map((file) => `docs/${file}`);
}

/** A directory of the fresh app holding one fixture, with the consumer tsconfig and these libs. */
function typesApp(name: string, fixture: string, lib: string[]): string {
  const dir = join(app(), name);
  mkdirSync(dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(fixtures, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
  config.compilerOptions.lib = lib;
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
  copyFileSync(join(fixtures, fixture), join(dir, fixture));
  return dir;
}

/** A directory of the fresh app holding the README's checked `.ts` blocks, with the consumer tsconfig. */
function readmeApp(name: string): string {
  const dir = join(app(), name);
  mkdirSync(dir, { recursive: true });
  const sources = [...readme].filter(([file]) => file.endsWith('.ts'));
  expect(sources.map(([file]) => file)).toContain('server.ts');
  for (const [file, code] of sources) writeFileSync(join(dir, file), code);
  // What the README's code leaves to the reader's own app.
  writeFileSync(join(dir, 'app-ambient.d.ts'), 'declare function saveOrder(body: unknown): Promise<{ id: string }>;\n');
  copyFileSync(join(fixtures, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  return dir;
}

/** The port a server started with readme-harness.mjs prints, or its output if it exits or stays silent. */
function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`the README's server did not listen within 30 s: ${output}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const match = /listening (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk; });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the README's server exited (${code}): ${output}`)); });
  });
}
