import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request } from 'express';
import { SignJWT } from 'jose';
import { Hub, jwtAuthenticator, type HubOptions, type Identity } from 'livehub';
import { inertia } from 'livehub/inertia';
import { RedisEngine } from 'livehub/redis';

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

export interface ChatServerOptions {
  distDir?: string;
  /** Origins allowed to open the WebSocket. @default same origin */
  origins?: string[];
  /**
   * `'jwt'`: people log in with a name (POST /login sets an HttpOnly cookie holding a signed JWT),
   * the WebSocket authenticates with it, and messages go on the private channel `private-chat`.
   * @default anonymous, on the public channel `chat`
   */
  auth?: 'jwt';
  /** HS256 secret for `auth: 'jwt'`. @default a random one per process */
  secret?: string;
  hub?: HubOptions;
}

export function createChatServer(options: ChatServerOptions = {}) {
  const distDir = options.distDir ?? join(here, 'dist');
  const assets = readAssets(distDir);
  const jwt = options.auth === 'jwt';
  const secret = options.secret ?? randomBytes(32).toString('base64url');
  const channel = jwt ? 'private-chat' : 'chat';
  const authenticate = jwt ? jwtAuthenticator({ key: secret, from: ['cookie'] }) : undefined;
  const messages: ChatMessage[] = [];
  const known = new Map<string, ChatMessage>();
  /** Validates and stores a message (once per id: a retry finds it stored); null for a bad one. */
  const store = (data: unknown, author?: string): ChatMessage | null => {
    const value = (data ?? {}) as Record<string, unknown>;
    const id = typeof value.id === 'string' && /^[\w-]{8,64}$/.test(value.id) ? value.id : null;
    const name = author ?? (typeof value.author === 'string' ? value.author.trim().slice(0, 40) : '');
    const body = typeof value.body === 'string' ? value.body.trim().slice(0, 2000) : '';
    if (!id || !name || !body) return null;
    const stored = known.get(id);
    if (stored) return stored;
    const message: ChatMessage = { id, author: name, body, at: new Date().toISOString() };
    known.set(id, message);
    messages.push(message);
    if (messages.length > 10 * HISTORY) for (const old of messages.splice(0, messages.length - HISTORY)) known.delete(old.id);
    return message;
  };
  const presenceChannel = 'presence-chat';
  const typingChannel = 'typing:chat';
  const hub = new Hub({
    origins: options.origins,
    history: { size: 1000, ttl: 10 * 60_000, channels: [{ match: 'typing:*', size: 0 }] },
    // Who is online shows the logged-in name, or the name the page chose (?name= on the socket URL).
    presenceInfo: (identity, _clientId, request) => ({
      name: identity?.userId ?? (new URL(request.url ?? '/', 'http://x').searchParams.get('name') ?? 'guest').slice(0, 40),
    }),
    // Pages publish messages over the socket (with the client's offline outbox and retries); a
    // message is checked and stored here, and then published as the page sent it. A retry never gets
    // here twice: the hub deduplicates publish ids.
    authorize: ({ action, channel: wanted, identity, event, data }) => {
      if (jwt && !identity) return false;
      if (wanted === presenceChannel) return action === 'subscribe';
      if (wanted === typingChannel) return action === 'subscribe' || event === 'typing_start' || event === 'typing_stop';
      if (wanted !== channel) return false;
      if (action === 'subscribe') return true;
      if (event !== 'message') return false;
      if (jwt && (data as { author?: unknown })?.author !== identity!.userId) return false;
      return store(data) !== null;
    },
    ...(jwt ? { authenticate } : {}),
    ...options.hub,
  });
  const userOf = async (req: Request): Promise<Identity | null> => {
    if (!authenticate) return null;
    try { return await authenticate(req); } catch { return null; }
  };

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

  app.get('/', async (req, res) => {
    const user = await userOf(req);
    // The position is read before the messages, so the page resumes from a point at or before them:
    // what it already shows may come again live (the page drops duplicates by id), nothing is lost.
    const position = await hub.position(channel);
    void res.inertia('Chat', {
      mode: jwt ? 'jwt' : 'open',
      channel,
      presenceChannel,
      typingChannel,
      user: user?.userId ?? null,
      position,
      messages: () => (jwt && !user ? [] : messages.slice(-HISTORY)),
    });
  });

  app.post('/login', async (req, res) => {
    const name = typeof req.body?.name === 'string' ? req.body.name.trim().slice(0, 40) : '';
    if (!jwt || !/^[\w .-]{1,40}$/.test(name)) {
      res.status(jwt ? 422 : 404).json({ error: jwt ? 'name: 1-40 letters, digits, spaces, . _ -' : 'not in this mode' });
      return;
    }
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(name).setExpirationTime('1h').sign(new TextEncoder().encode(secret));
    res.cookie('livehub_token', token, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: 3600_000 });
    res.status(204).end();
  });

  app.post('/logout', async (req, res) => {
    const user = await userOf(req);
    if (user) hub.disconnectUser(user.userId, 'logged out');
    res.clearCookie('livehub_token', { path: '/' });
    res.status(204).end();
  });

  app.post('/messages', async (req, res) => {
    const user = await userOf(req);
    if (jwt && !user) {
      res.status(401).json({ error: 'log in first' });
      return;
    }
    const message = store({ ...req.body, id: randomUUID() }, user?.userId);
    if (!message) {
      res.status(422).json({ error: 'author and body are required strings' });
      return;
    }
    hub.publish(channel, 'message', message);
    if (req.get('X-Inertia')) res.redirect(303, '/');
    else res.status(201).json(message);
  });

  app.get('/ws', hub.handleWebSocket);

  const server = createServer(app);
  hub.attach(server);
  return { app, server, hub, messages };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { server, hub } = createChatServer({
    // REDIS_URL: several nodes share positions, history and publications through Redis.
    hub: process.env.REDIS_URL ? { engine: new RedisEngine({ url: process.env.REDIS_URL, prefix: process.env.LIVEHUB_PREFIX }) } : undefined,
    auth: process.env.AUTH === 'jwt' ? 'jwt' : undefined,
    secret: process.env.JWT_SECRET,
    origins: process.env.ORIGINS ? process.env.ORIGINS.split(',').map((o) => o.trim()) : undefined,
  });
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
