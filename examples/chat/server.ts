import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response } from 'express';
import { SignJWT } from 'jose';
import { HandlerError, Hub, jwtAuthenticator, type HubOptions, type Identity } from 'livehub';
import { MemoryEngine } from 'livehub/engine';
import { inertia } from 'livehub/inertia';
import { healthHandlers, metricsHandler, statusPage } from 'livehub/observe';
import { RedisEngine } from 'livehub/redis';
import { capBodies } from './body-limit.js';
import { recentMessages } from './history.js';
import { isValidName, NAME_RULE, parseMessage } from './messages.js';
import { HEARTBEAT_PERIOD, HISTORY_TTL, historySize, MESSAGE_RATE, PAGE_MESSAGES } from './timing.js';

/** The example chat: Express + Inertia + livehub. `npm start` runs it on PORT (default 3000). */

export type { ChatMessage } from './messages.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The built pages' entry scripts and stylesheets, from Vite's manifest: the Vue page and the React page. */
function readAssets(distDir: string) {
  const manifestPath = join(distDir, '.vite', 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`${manifestPath} is missing: run "npm run build:example" first`);
  const raw = readFileSync(manifestPath, 'utf8');
  const manifest = JSON.parse(raw) as Record<string, { file: string; css?: string[]; isEntry?: boolean }>;
  const entry = (src: string) => {
    const chunk = manifest[src];
    if (!chunk?.isEntry) throw new Error(`the Vite manifest has no entry ${src}: run "npm run build:example" again`);
    return { script: `/${chunk.file}`, styles: (chunk.css ?? []).map((css) => `/${css}`) };
  };
  return {
    ...entry('examples/chat/client/main.ts'),
    react: entry('examples/chat/react/main.tsx'),
    version: createHash('sha256').update(raw).digest('hex').slice(0, 16),
  };
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
  /**
   * Messages per second the chat channel's history is sized for: it keeps every message of a page's
   * worst outage at this rate (see timing.ts).
   * @default 200
   */
  messageRate?: number;
  /** Mounts the HTTP API at /api with this key (X-API-Key). @default none: no /api */
  apiKey?: string;
  /** Protects the status page at /status with this key. @default none: open (development) */
  statusKey?: string;
  hub?: HubOptions;
}

const CHAT_OPTIONS = ['distDir', 'origins', 'auth', 'secret', 'messageRate', 'apiKey', 'statusKey', 'hub'];
const COOKIE = 'livehub_token';
const TOKEN_LIFETIME_S = 3600;
/** Who issues the chat's tokens and whom they are for: a token minted for another app is refused. */
const TOKEN_ISSUER = 'livehub-chat';
const TOKEN_AUDIENCE = 'livehub-chat';

/** A JSON error with a code, for every refused request. */
function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

export function createChatServer(options: ChatServerOptions = {}) {
  for (const key of Object.keys(options)) {
    if (!CHAT_OPTIONS.includes(key)) throw new TypeError(`createChatServer: unknown option '${key}'; valid options are ${CHAT_OPTIONS.join(', ')}`);
  }
  const { messageRate = MESSAGE_RATE } = options;
  if (typeof messageRate !== 'number' || !(messageRate > 0) || !Number.isFinite(messageRate)) {
    throw new TypeError(`createChatServer: messageRate must be a positive number of messages per second, got ${String(messageRate)}`);
  }
  const distDir = options.distDir ?? join(here, 'dist');
  const assets = readAssets(distDir);
  const jwt = options.auth === 'jwt';
  const secret = options.secret ?? randomBytes(32).toString('base64url');
  const channel = jwt ? 'private-chat' : 'chat';
  const presenceChannel = 'presence-chat';
  const typingChannel = 'typing:chat';
  const historyKept = historySize(messageRate);

  // Logout revokes: each token carries its user's token version (`ver`); logging out moves the
  // version on, so every token issued before is refused, on the socket (the authenticator's verify
  // hook) and over HTTP alike. Kept in this process: with several nodes, keep it in a shared store.
  const tokenVersions = new Map<string, number>();
  const versionOf = (user: string) => tokenVersions.get(user) ?? 0;
  const authenticate = jwt
    ? jwtAuthenticator({
      key: secret,
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      from: ['cookie'],
      cookieName: COOKIE,
      verify: (payload) => typeof payload.sub === 'string' && payload.ver === versionOf(payload.sub),
    })
    : undefined;

  // The messages are the chat channel's history (history.ts), read from the engine the hub uses.
  const engine = options.hub?.engine ?? new MemoryEngine();
  /** The name an anonymous page declared on its socket URL (`?name=`), for open mode. */
  const declaredName = (url: string | undefined) => new URL(url ?? '/', 'http://x').searchParams.get('name');
  const hub = new Hub({
    origins: options.origins,
    // The heartbeat the pages' timings count on (timing.ts; the hub's default).
    heartbeatPeriod: HEARTBEAT_PERIOD,
    history: {
      channels: [
        // Sized against the page's worst outage at the example's message rate (timing.ts).
        { match: channel, size: historyKept, ttl: HISTORY_TTL },
        { match: 'typing:*', size: 0 },
      ],
    },
    // Who is online: the logged-in name, or the name the page declared; `client` lets pages tell
    // which anonymous connection (`from.client`) is typing.
    presenceInfo: (identity, clientId, request) => {
      const name = identity?.userId ?? declaredName(request.url);
      return { name: isValidName(name) ? name : 'guest', client: clientId };
    },
    // Pages publish messages over the socket (with the client's offline outbox and retries); the
    // hub stamps who published (`from`), and a retry is published once (the hub deduplicates ids).
    authorize: ({ action, channel: wanted, identity, event, data, request }) => {
      if (jwt && !identity) return false;
      if (wanted === presenceChannel) return action === 'subscribe';
      // Typing goes through the chat:typing handler (exceptSelf); pages only listen.
      if (wanted === typingChannel) return action === 'subscribe';
      if (wanted !== channel) return false;
      if (action === 'subscribe') return true;
      if (event !== 'message') return false;
      const author = (data as { author?: unknown }).author;
      // JWT mode: the author is `from.user`; a message claiming another one is refused.
      if (identity) return author === undefined || author === identity.userId;
      // Open mode: no identities; a message carries the name its connection declared, and no other.
      return isValidName(author) && author === declaredName(request.url);
    },
    ...(authenticate ? { authenticate } : {}),
    ...options.hub,
    engine,
  });
  const userOf = async (req: Request): Promise<Identity | null> => {
    if (!authenticate) return null;
    try { return await authenticate(req); } catch { return null; }
  };

  // A message a page publishes must be a chat message: middleware answers a malformed one with
  // `invalid_message` before the channel policy (authorize) is asked who may publish it.
  hub.use('publish', async (message, _ctx, next) => {
    if (message.channel === channel && message.event === 'message' && !parseMessage(message.data)) {
      throw new HandlerError('invalid_message', 'a chat message is {id, body}: body a non-empty string of at most 2000 characters');
    }
    await next();
  });

  // Server-side handlers (hub.handle): what a page asks the server to do, over WebSocket or SSE.
  hub.handle('whoami', (_message, ctx) => ({ connection: ctx.id, user: ctx.userId, transport: ctx.transport }));
  // Posting a message: validated and stamped here, published to the chat, answered with its position.
  hub.handle('chat:send', async ({ data }, ctx, kit) => {
    const author = ctx.userId ?? declaredName(ctx.request.url);
    if (jwt && !ctx.userId) return kit.fail('unauthorized', 'log in first');
    if (!isValidName(author)) return kit.fail('invalid_name', `declare a name on the socket URL (?name=): ${NAME_RULE}`);
    const parsed = parseMessage({ id: (data as { id?: unknown } | null)?.id ?? randomUUID(), body: (data as { body?: unknown } | null)?.body });
    if (!parsed) return kit.fail('invalid_message', 'body must be a non-empty string of at most 2000 characters');
    const position = await hub.publish(channel, 'message', { ...parsed, author }, { idempotencyKey: `chat:${parsed.id}` });
    return { id: parsed.id, offset: position.offset, epoch: position.epoch };
  });
  // Typing: everyone in the chat but the typist hears it; who types is the server's stamp.
  hub.handle('chat:typing', async ({ data }, ctx, kit) => {
    if (jwt && !ctx.userId) return kit.fail('unauthorized', 'log in first');
    await kit.publish(typingChannel, data === false ? 'typing_stop' : 'typing_start', null, { exceptSelf: true });
  });

  const app = express();
  app.disable('x-powered-by');
  app.use('/assets', express.static(join(distDir, 'assets'), { immutable: true, maxAge: '1y' }));
  // The HTTP API for other services and scripts (examples/chat/publish.ts), with LIVEHUB_API_KEY.
  if (options.apiKey) app.use('/api', hub.api({ key: options.apiKey }));
  // Server-Sent Events: the stream (GET /events?channel=chat) and its commands (POST), for networks
  // where WebSocket does not pass; the page uses it with ?transport=sse.
  app.all('/events', hub.handleEventSource);
  // Bodies over 16 KiB are refused at once, the connection closed, the rest never read.
  app.use(capBodies(16 * 1024));
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
    const common = { mode: jwt ? 'jwt' : 'open', channel, presenceChannel, typingChannel, user: user?.userId ?? null };
    // A logged-out visitor of the private chat sees neither its messages nor its position.
    if (jwt && !user) {
      void res.inertia('Chat', { ...common, position: null, messages: [] });
      return;
    }
    // The messages and the position they end at come from one history read: the page resumes from
    // there, so nothing published meanwhile is lost and nothing shows twice.
    let recent;
    try {
      recent = await recentMessages(engine, channel, PAGE_MESSAGES, historyKept);
    } catch (error) {
      return fail(res, 503, 'unavailable', `the messages cannot be read: ${(error as Error).message}`);
    }
    void res.inertia('Chat', { ...common, ...recent });
  });

  // The React page (examples/chat/react): a plain HTML page on the same channels (open mode); it
  // reads its history from GET /messages.
  app.get('/react', (_req, res) => {
    if (jwt) return fail(res, 404, 'not_found', 'the React page runs in open mode only');
    res.type('html').send(`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>livehub chat (React)</title>
  ${assets.react.styles.map((href) => `<link rel="stylesheet" href="${href}">`).join('\n  ')}
</head>
<body>
  <div id="app"></div>
  <script type="module" src="${assets.react.script}"></script>
</body>
</html>`);
  });

  // The same, as JSON: what a page reloads after a gap (it replaces its list with it).
  app.get('/messages', async (req, res) => {
    if (jwt && !(await userOf(req))) return fail(res, 401, 'unauthorized', 'log in first');
    try {
      res.json(await recentMessages(engine, channel, PAGE_MESSAGES, historyKept));
    } catch (error) {
      fail(res, 503, 'unavailable', `the messages cannot be read: ${(error as Error).message}`);
    }
  });

  app.post('/login', async (req, res) => {
    if (!jwt) return fail(res, 404, 'not_found', 'logins exist only in JWT mode (AUTH=jwt)');
    const name: unknown = req.body?.name;
    if (!isValidName(name)) return fail(res, 400, 'invalid_name', `${NAME_RULE}; got ${JSON.stringify(name ?? null)?.slice(0, 60)}`);
    const token = await new SignJWT({ ver: versionOf(name) }).setProtectedHeader({ alg: 'HS256' }).setSubject(name)
      .setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setIssuedAt().setExpirationTime(`${TOKEN_LIFETIME_S}s`).sign(new TextEncoder().encode(secret));
    res.cookie(COOKIE, token, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: TOKEN_LIFETIME_S * 1000 });
    res.status(204).end();
  });

  // Logging out ends every session of the user: its tokens are revoked and its open sockets closed.
  app.post('/logout', async (req, res) => {
    const user = await userOf(req);
    if (user) {
      tokenVersions.set(user.userId, versionOf(user.userId) + 1);
      hub.disconnectUser(user.userId, 'logged out');
    }
    res.clearCookie(COOKIE, { path: '/' });
    res.status(204).end();
  });

  app.post('/messages', async (req, res) => {
    const user = await userOf(req);
    if (jwt && !user) return fail(res, 401, 'unauthorized', 'log in first');
    const author: unknown = user?.userId ?? req.body?.author;
    if (!isValidName(author)) return fail(res, 400, 'invalid_name', `author: ${NAME_RULE}`);
    const parsed = parseMessage({ id: randomUUID(), body: req.body?.body });
    if (!parsed) return fail(res, 422, 'invalid_message', 'body must be a non-empty string of at most 2000 characters');
    const message = { ...parsed, author };
    let position;
    try {
      // Answered once the message has its position: sequential posts keep their order, across nodes.
      position = await hub.publish(channel, 'message', message);
    } catch (error) {
      // Not published, so not in history either: nothing to undo.
      return fail(res, 503, 'unavailable', `the message was not published: ${(error as Error).message}`);
    }
    if (req.get('X-Inertia')) res.redirect(303, '/');
    else res.status(201).json({ ...message, offset: position.offset, epoch: position.epoch });
  });

  app.get('/ws', hub.handleWebSocket);

  // Operations: Prometheus metrics, health for the load balancer, a live status page (open without
  // LIVEHUB_STATUS_KEY, for development; set the key anywhere else).
  const { live, ready } = healthHandlers(hub);
  app.get('/metrics', metricsHandler(hub));
  app.get('/health/live', live);
  app.get('/health/ready', ready);
  app.get('/status', statusPage(hub, options.statusKey ? { key: options.statusKey } : {}));

  const server = createServer(app);
  hub.attach(server);
  return { app, server, hub, engine, historyKept };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { server, hub } = createChatServer({
    // REDIS_URL: several nodes share positions, history and publications through Redis.
    hub: process.env.REDIS_URL ? { engine: new RedisEngine({ url: process.env.REDIS_URL, prefix: process.env.LIVEHUB_PREFIX }) } : undefined,
    auth: process.env.AUTH === 'jwt' ? 'jwt' : undefined,
    secret: process.env.JWT_SECRET,
    ...(process.env.MESSAGE_RATE ? { messageRate: Number(process.env.MESSAGE_RATE) } : {}),
    origins: process.env.ORIGINS ? process.env.ORIGINS.split(',').map((o) => o.trim()) : undefined,
    apiKey: process.env.LIVEHUB_API_KEY,
    statusKey: process.env.LIVEHUB_STATUS_KEY,
  });
  const port = Number(process.env.PORT ?? 3000);
  // A listen queue for reconnect storms: Node's default (511) drops SYNs when every client of a
  // restarted node comes back at once, and each dropped one waits 1, 3, 7 s to retry (W8 in the
  // README's benchmark: 99% back in 6-9 s with 4096 against 13-15 s). Capped by net.core.somaxconn.
  server.listen({ port, host: process.env.HOST ?? '127.0.0.1', backlog: 4096 }, () => {
    const { port: bound } = server.address() as AddressInfo;
    console.log(`livehub chat listening on http://localhost:${bound} (WebSocket at /ws)`);
  });
  // SIGTERM (a rolling restart): with Redis, drain first, so clients move to the other nodes and
  // recover there. A single node (the memory engine) has nowhere to send them: a drain would only
  // refuse their reconnects (503) while it lasts, so it closes at once and they come back to the
  // next process (which starts new epochs: their subscribe answers recovered:false).
  const stop = async (signal: string) => {
    const shared = process.env.REDIS_URL !== undefined;
    console.log(`livehub chat: ${signal}, ${shared ? 'draining' : 'closing'}`);
    await hub.drain({ spread: signal === 'SIGTERM' && shared ? 5000 : 0 });
    await hub.close();
    server.close(() => process.exit(0));
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
