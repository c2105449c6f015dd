/** Chromium for WebRTC tests, and a page server with the client and its WebRTC part as scripts. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { CHROMIUM } from '../e2e/browser.js';

/**
 * Headless Chromium with fake media, and host candidates as plain addresses (not mDNS names, which
 * a container cannot resolve), so two pages connect peer to peer on this machine.
 */
export function launchForWebrtc(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--disable-features=WebRtcHideLocalIpsWithMdns'],
  });
}

/** `entry` as one script setting `window[name]` (`define`: replacements, e.g. React's `process.env.NODE_ENV`). */
export async function bundle(entry: string, name: string, define: Record<string, string> = {}): Promise<string> {
  const output = await build({
    configFile: false, logLevel: 'silent', define,
    build: { write: false, minify: false, lib: { entry: fileURLToPath(new URL(entry, import.meta.url)), formats: ['iife'], name } },
  });
  const chunks = (Array.isArray(output) ? output : [output]).flatMap((o) => ('output' in o ? o.output : []));
  const code = chunks.find((chunk) => chunk.type === 'chunk');
  if (!code || code.type !== 'chunk') throw new Error(`vite produced no bundle of ${entry}`);
  return code.code;
}

/** Both bundles: `window.livehub` (the client) and `window.livehubWebrtc` (its WebRTC part). */
export async function bundles(): Promise<string> {
  const [client, webrtc] = await Promise.all([bundle('../../client/index.ts', 'livehub'), bundle('../../client/webrtc/index.ts', 'livehubWebrtc')]);
  return `${client}\n${webrtc}`;
}

/** A server answering every request with a page that loads `scripts`. */
export async function pageServer(scripts: string): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    if (request.url === '/app.js') {
      response.writeHead(200, { 'Content-Type': 'text/javascript' });
      return response.end(scripts);
    }
    response.writeHead(200, { 'Content-Type': 'text/html' });
    response.end('<!doctype html><title>call</title><script src="/app.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}
