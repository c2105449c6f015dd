import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const root = fileURLToPath(new URL('../..', import.meta.url));

/** Debian's Chromium, headless, as the project's standards require. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** Runs the example chat server (as `npm start` does, minus the build) and waits for its port. */
export function startChat(port = 0, env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
  return startExample('examples/chat/server.ts', port, env);
}

/** Runs an example's server (a script that prints "listening on http://localhost:PORT") and waits for its port. */
export function startExample(script: string, port = 0, env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    env: { ...process.env, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /listening on http:\/\/localhost:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk) => { output += chunk; });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${script} exited (${code}): ${output}`)); });
  });
}

export function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** The framework-free client as one script that sets `window.livehub` (for pages served by a test). */
export async function bundleClient(): Promise<string> {
  const entry = fileURLToPath(new URL('../../client/index.ts', import.meta.url));
  const output = await build({
    configFile: false, logLevel: 'silent',
    build: { write: false, minify: false, lib: { entry, formats: ['iife'], name: 'livehub' } },
  });
  const chunks = (Array.isArray(output) ? output : [output]).flatMap((o) => ('output' in o ? o.output : []));
  const code = chunks.find((chunk) => chunk.type === 'chunk');
  if (!code || code.type !== 'chunk') throw new Error('vite produced no bundle of client/index.ts');
  return code.code;
}
