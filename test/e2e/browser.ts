import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** Answers a test page's request: the bundled client at `/livehub.js`, else a page that loads it. */
export function servePage(request: IncomingMessage, response: ServerResponse, bundle: string, title = 'livehub'): void {
  if (request.url === '/livehub.js') {
    response.writeHead(200, { 'Content-Type': 'text/javascript' });
    response.end(bundle);
    return;
  }
  response.writeHead(200, { 'Content-Type': 'text/html' });
  response.end(`<!doctype html><title>${title}</title><script src="/livehub.js"></script>`);
}

/** A server of test pages with the bundled client (`window.livehub`), on port 0; `origin` is its URL. */
export async function clientPageServer(): Promise<{ origin: string; close(): Promise<void> }> {
  const bundle = await bundleClient();
  const server = createServer((request, response) => servePage(request, response, bundle));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
