import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { HandlerError, Hub, type HubOptions, type Logger } from 'livehub';
import { MemoryEngine } from 'livehub/engine';
import { inertia } from 'livehub/inertia';
import { RedisEngine } from 'livehub/redis';
import { PostgresEngine } from 'livehub/postgres';
import type { WebrtcSignallingOptions } from 'livehub/webrtc';
import { mountNotifications } from './notifications.js';
import { chatAuth, fail, storeUnavailable } from './auth.js';
import { isRoomChat, mountCalls, ROOM_HISTORY } from './calls.js';
import { capBodies } from './body-limit.js';
import { startWorkers, workerLabel } from './cluster.js';
import { chatPage, reactPage, readAssets } from './pages.js';
import { chatDevices, checkMqttOption, deviceName } from './devices.js';
import { sensorOf, SENSORS_PATTERN } from './readings.js';
import { recentMessages } from './history.js';
import { MeasuredHistory } from './measured-history.js';
import { isValidName, NAME_RULE, parseMessage } from './messages.js';
import { mountOperations } from './operations.js';
import { HEARTBEAT_PERIOD, HISTORY_TTL, historySize, MAX_HISTORY, MESSAGE_RATE, PAGE_MESSAGES, WORST_OUTAGE } from './timing.js';
import { fileTokenVersions, memoryTokenVersions, redisTokenVersions, type TokenVersions } from './token-versions.js';

/** The example chat: Express + Inertia + livehub. `npm start` runs it on PORT (default 3000). */

export type { ChatMessage } from './messages.js';

const here = dirname(fileURLToPath(import.meta.url));

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
   * Where logouts are remembered (token-versions.ts): shared by every node and kept across restarts,
   * or a logged-out cookie still works on another node or after a restart. Required with a
   * `RedisEngine` in JWT mode (`redisTokenVersions` on the same Redis). Closed with the server.
   * @default this process only (`memoryTokenVersions`)
   */
  tokenVersions?: TokenVersions;
  /**
   * Messages per second the chat channel's history is sized for at least; the measured rate raises it
   * (measured-history.ts): it keeps every message of a page's worst outage (see timing.ts).
   * @default 200
   */
  messageRate?: number;
  /** Most messages the chat channel's history keeps, however busy it is. @default 100000 */
  maxHistory?: number;
  /** Mounts the HTTP API at /api with this key (X-API-Key). @default none: no /api */
  apiKey?: string;
  /** The key that opens /status and /metrics (operations.ts), at least 8 characters. @default none */
  statusKey?: string;
  /** Development: /status and /metrics are open without a key. @default NODE_ENV === 'development' */
  development?: boolean;
  /**
   * The call page's signalling (`GET /call?room=`, calls.ts): `iceServers`, `turn` and limits.
   * @default no ICE servers: peers on one network connect
   */
  calls?: WebrtcSignallingOptions;
  /** MQTT for devices (devices.ts): over TCP on `port` (0: any free one) and over WebSocket at /mqtt. @default none */
  mqtt?: { port: number; host?: string };
  hub?: HubOptions;
}

const CHAT_OPTIONS = ['distDir', 'origins', 'auth', 'secret', 'tokenVersions', 'messageRate', 'maxHistory', 'apiKey', 'statusKey', 'development', 'calls', 'mqtt', 'hub'];
/** The example's own lines (history capped), through the hub's logger when one is given. */
const consoleLog: Logger = { debug() {}, info() {}, warn: (_c, m) => console.warn(m), error: (c, m) => console.error(m, (c as { err?: unknown }).err ?? '') };
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export function createChatServer(options: ChatServerOptions = {}) {
  for (const key of Object.keys(options)) {
    if (!CHAT_OPTIONS.includes(key)) throw new TypeError(`createChatServer: unknown option '${key}'; valid options are ${CHAT_OPTIONS.join(', ')}`);
  }
  const { messageRate = MESSAGE_RATE, maxHistory = MAX_HISTORY, development = process.env.NODE_ENV === 'development' } = options;
  if (typeof messageRate !== 'number' || !(messageRate > 0) || !Number.isFinite(messageRate)) {
    throw new TypeError(`createChatServer: messageRate must be a positive number of messages per second, got ${String(messageRate)}`);
  }
  if (!Number.isInteger(maxHistory) || maxHistory < 1) throw new TypeError(`createChatServer: maxHistory must be a whole number >= 1, got ${String(maxHistory)}`);
  if (typeof development !== 'boolean') throw new TypeError('createChatServer: development must be a boolean');
  checkMqttOption(options.mqtt);
  if (options.statusKey !== undefined && (typeof options.statusKey !== 'string' || options.statusKey.length < 8)) {
    throw new TypeError('createChatServer: statusKey must be a string of at least 8 characters (LIVEHUB_STATUS_KEY)');
  }
  const logger = options.hub?.logger === false ? silent : options.hub?.logger ?? consoleLog;
  const distDir = options.distDir ?? join(here, 'dist');
  const assets = readAssets(distDir);
  const jwt = options.auth === 'jwt';
  const secret = options.secret ?? randomBytes(32).toString('base64url');
  const channel = jwt ? 'private-chat' : 'chat';
  const presenceChannel = 'presence-chat';
  const typingChannel = 'typing:chat';

  const given = options.hub?.engine ?? new MemoryEngine();
  if (jwt && given instanceof RedisEngine && !options.tokenVersions) {
    throw new TypeError('createChatServer: with a RedisEngine in JWT mode, pass tokenVersions (redisTokenVersions({ url }) on the same Redis): otherwise a logout on one node does not revoke on the others');
  }
  const versions = options.tokenVersions ?? memoryTokenVersions();
  const auth = jwt ? chatAuth({ secret, versions, logger }) : null;
  const userOf = auth?.userOf ?? (async () => null);

  // The chat's history keeps every message of a page's worst outage at the channel's measured rate
  // (measured-history.ts), and at least what a page shows; the hub's `history` option sets one size
  // per channel, which cannot follow the rate.
  const engine = new MeasuredHistory(given, {
    match: (name) => name === channel,
    window: WORST_OUTAGE,
    floor: Math.min(Math.max(historySize(messageRate), PAGE_MESSAGES), maxHistory),
    cap: maxHistory,
    onCapped: (name, wanted, cap) => logger.warn({ code: 'history_capped', channel: name, wanted, cap },
      `chat: ${name} needs a history of ${wanted} messages to cover the last ${WORST_OUTAGE / 1000} s, more than maxHistory (${cap}): a page away that long gets a gap; raise MAX_HISTORY if memory allows`),
  });
  /** The name an anonymous page declared on its socket URL (`?name=`), or a device as its MQTT user name, for open mode. */
  const declaredName = (request: { url?: string; headers: Record<string, string | string[] | undefined> }) =>
    new URL(request.url ?? '/', 'http://x').searchParams.get('name') ?? deviceName(request);
  let operations: ReturnType<typeof mountOperations> | null = null;
  let notices: ReturnType<typeof mountNotifications> | null = null;
  const hub = new Hub({
    origins: options.origins,
    // The heartbeat the pages' timings count on (timing.ts; the hub's default).
    heartbeatPeriod: HEARTBEAT_PERIOD,
    history: {
      channels: [
        // The size here is replaced by the measured one on each publish.
        { match: channel, size: engine.sizeOf(channel), ttl: HISTORY_TTL },
        { match: 'typing:*', size: 0 },
        // Each user's stream (notifications): what a device that was away finds, unread or not.
        { match: 'user:*', size: 500, ttl: 30 * 24 * 60 * 60_000 },
        // Each call room's chat (calls.ts); the peers' signals are worth nothing once delivered.
        { match: 'room-chat:*', size: ROOM_HISTORY, ttl: HISTORY_TTL },
        { match: 'presence-webrtc-peer:*', size: 0 },
      ],
    },
    // Who is online: the logged-in name, or the name the page declared; `client` lets pages tell
    // which anonymous connection (`from.client`) is typing.
    presenceInfo: (identity, clientId, request) => {
      const name = identity?.userId ?? declaredName(request);
      return { name: isValidName(name) ? name : 'guest', client: clientId };
    },
    // Pages publish messages over the socket (with the client's offline outbox and retries); the
    // hub stamps who published (`from`), and a retry is published once (the hub deduplicates ids).
    authorize: ({ action, channel: wanted, identity, event, data, request }) => {
      // The status page watches its channel if it may be seen at all (operations.ts).
      if (wanted.startsWith('livehub-status')) return action === 'subscribe' && (operations?.mayWatch(wanted, identity ?? null) ?? false);
      if (jwt && !identity) return false;
      if (wanted === presenceChannel) return action === 'subscribe';
      // Typing goes through the chat:typing handler (exceptSelf); pages only listen.
      if (wanted === typingChannel) return action === 'subscribe';
      // Sensor readings: pages watch them (the dashboard's pattern), devices publish them (devices.ts).
      if (wanted === SENSORS_PATTERN || sensorOf(wanted) !== null) return true;
      if (wanted !== channel && !isRoomChat(wanted)) return false;
      if (action === 'subscribe') return true;
      if (event !== 'message') return false;
      const author = (data as { author?: unknown }).author;
      // JWT mode: the author is `from.user`; a message claiming another one is refused.
      if (identity) return author === undefined || author === identity.userId;
      // Open mode: no identities; a message carries the name its connection declared, and no other.
      return isValidName(author) && author === declaredName(request);
    },
    ...(auth ? { authenticate: auth.authenticate } : {}),
    ...options.hub,
    engine,
  });
  const recent = () => recentMessages(engine, channel, PAGE_MESSAGES, engine.sizeOf(channel));
  // Devices over MQTT (devices.ts); made before the chat's middleware, which then checks their messages too.
  const devices = chatDevices(hub, { channel, ...(options.mqtt ? { mqtt: options.mqtt } : {}) });

  // A message a page publishes must be a chat message: middleware answers a malformed one with
  // `invalid_message` before the channel policy (authorize) is asked who may publish it.
  hub.use('publish', async (message, ctx, next) => {
    if ((message.channel === channel || isRoomChat(message.channel ?? '')) && message.event === 'message' && !parseMessage(message.data)) {
      throw new HandlerError('invalid_message', 'a chat message is {id, body}: body a non-empty string of at most 2000 characters');
    }
    await next();
    // A message mentioning @name notifies that user (once per message id, however often it is sent).
    const parsed = message.channel === channel && message.event === 'message' ? parseMessage(message.data) : null;
    const author = ctx.userId ?? declaredName(ctx.request);
    if (parsed && isValidName(author)) notices?.mentioned({ ...parsed, author });
  });

  // Server-side handlers (hub.handle): what a page asks the server to do, over WebSocket or SSE.
  hub.handle('whoami', (_message, ctx) => ({ connection: ctx.id, user: ctx.userId, transport: ctx.transport }));
  // Posting a message: validated and stamped here, published to the chat, answered with its position.
  hub.handle('chat:send', async ({ data }, ctx, kit) => {
    const author = ctx.userId ?? declaredName(ctx.request);
    if (jwt && !ctx.userId) return kit.fail('unauthorized', 'log in first');
    if (!isValidName(author)) return kit.fail('invalid_name', `declare a name on the socket URL (?name=): ${NAME_RULE}`);
    const parsed = parseMessage({ id: (data as { id?: unknown } | null)?.id ?? randomUUID(), body: (data as { body?: unknown } | null)?.body });
    if (!parsed) return kit.fail('invalid_message', 'body must be a non-empty string of at most 2000 characters');
    const position = await hub.publish(channel, 'message', { ...parsed, author }, { idempotencyKey: `chat:${parsed.id}` });
    notices?.mentioned({ ...parsed, author });
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
  // Notifications: mentions, the bell's list and its unread count (notifications.ts).
  notices = mountNotifications(app, hub, { userOf });
  app.use(inertia({
    version: assets.version,
    render: (_page, pageScript) => chatPage(assets, pageScript),
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
    let page;
    try {
      page = await recent();
    } catch (error) {
      return fail(res, 503, 'unavailable', `the messages cannot be read: ${(error as Error).message}`);
    }
    void res.inertia('Chat', { ...common, ...page });
  });

  // The React page (examples/chat/react): a plain HTML page on the same channels (open mode); it
  // reads its history from GET /messages.
  app.get('/react', (_req, res) => {
    if (jwt) return fail(res, 404, 'not_found', 'the React page runs in open mode only');
    res.type('html').send(reactPage(assets));
  });

  // The same, as JSON: what a page reloads after a gap (it replaces its list with it).
  app.get('/messages', async (req, res) => {
    if (jwt && !(await userOf(req))) return fail(res, 401, 'unauthorized', 'log in first');
    try {
      res.json(await recent());
    } catch (error) {
      fail(res, 503, 'unavailable', `the messages cannot be read: ${(error as Error).message}`);
    }
  });

  app.post('/login', (req, res) => {
    if (!auth) return fail(res, 404, 'not_found', 'logins exist only in JWT mode (AUTH=jwt)');
    return auth.login(req, res);
  });
  app.post('/logout', auth ? auth.logout(hub) : (_req, res) => { res.status(204).end(); });

  // A message posted over HTTP carries its id (the page's, or a new one): it is the publish's
  // idempotency key, so a resend after a failure is published once, whichever node it reaches.
  app.post('/messages', async (req, res) => {
    const user = await userOf(req);
    if (jwt && !user) return fail(res, 401, 'unauthorized', 'log in first');
    const author: unknown = user?.userId ?? req.body?.author;
    if (!isValidName(author)) return fail(res, 400, 'invalid_name', `author: ${NAME_RULE}`);
    const id: unknown = req.body?.id ?? randomUUID();
    if (!parseMessage({ id, body: 'x' })) return fail(res, 422, 'invalid_message', 'id must be 8-64 letters, digits, "_" or "-", unique per message (and the same on a resend)');
    const parsed = parseMessage({ id, body: req.body?.body });
    if (!parsed) return fail(res, 422, 'invalid_message', 'body must be a non-empty string of at most 2000 characters');
    const message = { ...parsed, author };
    let position;
    try {
      // Answered once the message has its position: sequential posts keep their order, across nodes.
      position = await hub.publish(channel, 'message', message, { idempotencyKey: `chat:${parsed.id}` });
    } catch (error) {
      return publishFailed(res, error);
    }
    notices.mentioned(message);
    if (req.get('X-Inertia')) res.redirect(303, '/');
    else res.status(201).json({ ...message, offset: position.offset, epoch: position.epoch, ...(position.duplicate ? { duplicate: true } : {}) });
  });

  app.get('/ws', hub.handleWebSocket);

  // The call page, GET /call?room=<name> (calls.ts): a call between the room's pages, its chat beside it.
  mountCalls(app, hub, { jwt, engine, assets, userOf, signalling: options.calls });
  // The devices' dashboard, GET /dashboard: sensor readings live, beside the chat.
  devices.mount(app, { jwt, assets, userOf, recent });

  // Operations: health for the load balancer; Prometheus metrics and a live status page for those
  // who may see them (operations.ts).
  operations = mountOperations(app, hub, { key: options.statusKey, development, jwt, userOf });

  // A login store that does not answer: 503, never a silent pass.
  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (!storeUnavailable(error, res)) next(error);
  });

  const server = createServer(app);
  hub.attach(server);
  devices.attach(server);
  const close = async () => {
    operations?.close();
    await hub.close();
    await versions.close();
  };
  return { app, server, hub, engine, tokenVersions: versions, operations: operations.summary, mqtt: devices.endpoint, mqttListening: devices.listening, close };
}

/**
 * A publish that failed: 503 when nothing was published (`unavailable`, `closed`), 504 when the store
 * did not answer in time and it may have been (`outcome_unknown`). Either way the same message with the
 * same id may be sent again: it is published once.
 */
function publishFailed(res: Response, error: unknown): void {
  const code = (error as { code?: unknown }).code;
  const cause = (error as Error).message;
  res.setHeader('Retry-After', '1');
  if (code === 'outcome_unknown') {
    return fail(res, 504, 'outcome_unknown', `the message may or may not have been published (${cause}): send it again with the same id; it will not show twice`);
  }
  if (code === 'closed') return fail(res, 503, 'closed', `this server is shutting down: send the message again with the same id (${cause})`);
  fail(res, 503, 'unavailable', `the message was not published (${cause}): send it again with the same id in a moment`);
}

// With WORKERS=n this process is the primary: it forks n workers that run what follows (cluster.ts).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url) && !startWorkers()) {
  const env = process.env;
  const jwt = env.AUTH === 'jwt';
  // Logouts are kept where every node and the next process see them: in Redis with REDIS_URL, else
  // in a file (one node). With a random secret per process nothing outlives the process anyway.
  const tokenVersions = !jwt ? undefined
    : env.REDIS_URL ? redisTokenVersions({ url: env.REDIS_URL, prefix: `${env.LIVEHUB_PREFIX ?? 'livehub'}-chat` })
      : env.JWT_SECRET ? fileTokenVersions(env.TOKEN_VERSIONS_FILE ?? join(here, '.data', 'token-versions.json'))
        : undefined;
  const chat = createChatServer({
    // DATABASE_URL: history, notifications and their acknowledgements in PostgreSQL, kept across
    // restarts (and shared by every node). REDIS_URL: several nodes share them through Redis.
    hub: env.DATABASE_URL ? { engine: new PostgresEngine({ connectionString: env.DATABASE_URL }) }
      : env.REDIS_URL ? { engine: new RedisEngine({ url: env.REDIS_URL, prefix: env.LIVEHUB_PREFIX }) } : undefined,
    auth: jwt ? 'jwt' : undefined,
    secret: env.JWT_SECRET,
    ...(tokenVersions ? { tokenVersions } : {}),
    ...(env.MESSAGE_RATE ? { messageRate: Number(env.MESSAGE_RATE) } : {}),
    ...(env.MAX_HISTORY ? { maxHistory: Number(env.MAX_HISTORY) } : {}),
    origins: env.ORIGINS ? env.ORIGINS.split(',').map((o) => o.trim()) : undefined,
    apiKey: env.LIVEHUB_API_KEY,
    statusKey: env.LIVEHUB_STATUS_KEY,
    // TURN for the call page (coturn with use-auth-secret): TURN_SECRET and TURN_URLS (comma-separated).
    ...(env.TURN_SECRET && env.TURN_URLS ? { calls: { turn: { secret: env.TURN_SECRET, urls: env.TURN_URLS.split(',') } } } : {}),
    // MQTT_PORT: devices speak MQTT over TCP on it and over WebSocket at /mqtt (devices.ts); unset, no MQTT.
    ...(env.MQTT_PORT ? { mqtt: { port: Number(env.MQTT_PORT), host: env.HOST ?? '127.0.0.1' } } : {}),
  });
  const { server, hub } = chat;
  const port = Number(env.PORT ?? 3000);
  // A listen queue for reconnect storms: Node's default (511) drops SYNs when every client of a
  // restarted node comes back at once, and each dropped one waits 1, 3, 7 s to retry (the reconnect
  // storm in docs/benchmarks.md, two nodes: 99% back in 5.9-8.3 s with 4096 against 10.6-12.1 s). Capped by net.core.somaxconn.
  server.listen({ port, host: env.HOST ?? '127.0.0.1', backlog: 4096 }, () => {
    const { port: bound } = server.address() as AddressInfo;
    console.log(`livehub chat listening on http://localhost:${bound} (WebSocket at /ws)${workerLabel(hub.info().node)}`);
    console.log(chat.operations);
    if (jwt) console.log(`livehub chat: logouts are kept in ${chat.tokenVersions.where}`);
    chat.mqttListening().then((mqtt) => mqtt !== null && console.log(`livehub chat: MQTT for devices on mqtt://localhost:${mqtt} and ws://localhost:${bound}/mqtt (dashboard at /dashboard)`),
      (error: Error) => console.error(error.message));
  });
  // SIGTERM (a rolling restart): stop listening first, so reconnects are refused by the kernel at no
  // cost to this process (answering each with a 503 while it closes its connections made a single
  // node's shutdown up to 2.4 times as long in the benchmark's reconnect storm). With Redis,
  // drain next, so clients move to the other nodes and recover there. A single node (the memory
  // engine) has nowhere to send them, so it closes them all at once and they come back to the next
  // process (which starts new epochs: their subscribe answers recovered:false).
  let stopping = false; // once: a worker gets Ctrl-C from the terminal and again from its primary
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const shared = env.REDIS_URL !== undefined || env.DATABASE_URL !== undefined;
    console.log(`livehub chat: ${signal}, ${shared ? 'draining' : 'closing'}`);
    const closed = new Promise((resolve) => server.close(resolve)); // resolves once every connection is closed
    await hub.drain({ spread: signal === 'SIGTERM' && shared ? 5000 : 0 });
    await chat.close();
    await closed;
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
