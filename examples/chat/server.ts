import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Hub, type HubOptions } from 'livehub';
import { inertia } from 'livehub/inertia';

/** The example chat: Express + Inertia + livehub. `npm start` runs it on PORT (default 3000). */

export interface ChatMessage {
  id: string;
  author: string;
  body: string;
  at: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const HISTORY = 50;

/** The built page's entry script and stylesheets, from Vite's manifest. */
function readAssets(distDir: string) {
  const manifestPath = join(distDir, '.vite', 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`${manifestPath} is missing: run "npm run build:example" first`);
  const raw = readFileSync(manifestPath, 'utf8');
  const manifest = JSON.parse(raw) as Record<string, { file: string; css?: string[]; isEntry?: boolean }>;
  const entry = Object.values(manifest).find((chunk) => chunk.isEntry);
  if (!entry) throw new Error('the Vite manifest has no entry');
  return { script: `/${entry.file}`, styles: (entry.css ?? []).map((css) => `/${css}`), version: createHash('sha256').update(raw).digest('hex').slice(0, 16) };
}

export function createChatServer(options: { distDir?: string; hub?: HubOptions } = {}) {
  const distDir = options.distDir ?? join(here, 'dist');
  const assets = readAssets(distDir);
  const hub = new Hub(options.hub);
  const messages: ChatMessage[] = [];

  const app = express();
  app.disable('x-powered-by');
  app.use('/assets', express.static(join(distDir, 'assets'), { immutable: true, maxAge: '1y' }));
  app.use(express.json({ limit: '16kb' }));
  app.use(express.urlencoded({ extended: false, limit: '16kb' }));
  app.use(inertia({
    version: assets.version,
    render: (_page, pageScript) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>livehub chat</title>
  ${assets.styles.map((href) => `<link rel="stylesheet" href="${href}">`).join('\n  ')}
</head>
<body>
  ${pageScript}
  <div id="app"></div>
  <script type="module" src="${assets.script}"></script>
</body>
</html>`,
  }));

  app.get('/', (_req, res) => void res.inertia('Chat', { messages: () => messages.slice(-HISTORY) }));

  app.post('/messages', (req, res) => {
    const author = typeof req.body?.author === 'string' ? req.body.author.trim().slice(0, 40) : '';
    const body = typeof req.body?.body === 'string' ? req.body.body.trim().slice(0, 2000) : '';
    if (!author || !body) {
      res.status(422).json({ error: 'author and body are required strings' });
      return;
    }
    const message: ChatMessage = { id: randomUUID(), author, body, at: new Date().toISOString() };
    messages.push(message);
    if (messages.length > 10 * HISTORY) messages.splice(0, messages.length - HISTORY);
    hub.publish('chat', 'message', message);
    if (req.get('X-Inertia')) res.redirect(303, '/');
    else res.status(201).json(message);
  });

  app.get('/ws', hub.handleWebSocket);

  const server = createServer(app);
  hub.attach(server);
  return { app, server, hub, messages };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { server, hub } = createChatServer();
  const port = Number(process.env.PORT ?? 3000);
  server.listen(port, process.env.HOST ?? '127.0.0.1', () => {
    const { port: bound } = server.address() as AddressInfo;
    console.log(`livehub chat listening on http://localhost:${bound} (WebSocket at /ws)`);
  });
  const stop = async () => {
    await hub.close();
    server.close(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
