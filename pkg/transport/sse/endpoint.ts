import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRefusal, type Identity, type TransportEndpoint, type TransportEvents, type TransportHost } from '../index.js';
import { LIVEHUB_EVENT, sseFormat } from './format.js';
import { ErrorCode, isCarriableEpoch, isValidChannel, parseResumeId, patternError } from '../../protocol/index.js';
import { ApiError, isJson, readBody, sendError, sendJson } from '../http-io.js';
import { SseTransport } from './stream.js';

/** Largest companion POST body: one command, as over WebSocket. */
const MAX_COMMAND_BYTES = 64 * 1024;

/** The topic of commands sent between nodes for a stream held by another node. */
const FORWARD_TOPIC = 'sse';

interface Stream {
  session: TransportEvents;
  secret: Buffer;
}

/**
 * The Server-Sent Events endpoint: `GET` opens a stream (channels as repeated `channel` query
 * parameters, resumed from `Last-Event-ID` or a `lastEventId` parameter); `POST` with the stream's
 * token in `X-Livehub-Stream` carries a command (a subscribe, a publish…, the same JSON as over
 * WebSocket) through the hub's router, and its answer comes on the stream. The token names the node
 * that holds the stream, so a POST that lands on another node is forwarded through the engine: no
 * sticky sessions. Streams pass the same gate as WebSocket (origin, caps, authentication).
 */
export class EventSourceEndpoint implements TransportEndpoint {
  readonly name = 'sse';
  private readonly named = sseFormat(true);
  private readonly unnamed = sseFormat(false);
  private readonly streams = new Map<string, Stream>();
  private hub!: TransportHost;

  start(hub: TransportHost): void {
    this.hub = hub;
    hub.onNodeMessage(FORWARD_TOPIC, (data) => {
      try {
        const { token, text } = JSON.parse(data) as { token?: unknown; text?: unknown };
        if (typeof token === 'string' && typeof text === 'string') this.deliver(token, text);
      } catch (error) {
        hub.reporter.error(error, 'bad_node_message', `livehub: a forwarded SSE command could not be read: ${(error as Error).message}`);
      }
    });
  }

  /** Streams close with their sessions; nothing else to stop. */
  stop(): void {}

  /**
   * Express (or node:http) handler for every method: `app.all('/events', hub.handleEventSource)`.
   * A page on another origin the `origins` option allows gets CORS answers: the stream and the
   * commands carry `Access-Control-Allow-Origin` (with credentials, for cookies), and the commands'
   * preflight (`OPTIONS`, for their JSON body and `X-Livehub-Stream` header) is answered here.
   */
  handleRequest(request: IncomingMessage, response: ServerResponse): void {
    response.appendHeader('Vary', 'Origin'); // every answer depends on the Origin (kept with any Vary set before)
    const cors = this.cors(request);
    if (cors === null) {
      this.hub.refusedOrigin(request);
      return answer(response, 403, 'origin_refused', 'this origin may not use the stream (the hub\'s origins option)');
    }
    for (const name in cors) response.setHeader(name, cors[name]!);
    if (request.method === 'GET') return this.open(request, response);
    if (request.method === 'POST') return this.command(request, response);
    if (request.method === 'OPTIONS') return preflight(request, response);
    answer(response, 405, 'method_not_allowed', 'use GET to open a stream and POST to send it a command', { Allow: 'GET, POST, OPTIONS' });
  }

  /** CORS headers for an allowed Origin (none without one), or null for an origin `origins` refuses. */
  private cors(request: IncomingMessage): Record<string, string> | null {
    const origin = request.headers.origin;
    if (origin === undefined) return {};
    if (!this.hub.originAllowed(request)) return null;
    return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true' };
  }

  private open(request: IncomingMessage, response: ServerResponse): void {
    if (this.hub.closing) return answer(response, 503, 'closed', 'the server is shutting down; reconnect', { 'Retry-After': '1' });
    const url = new URL(request.url ?? '/', 'http://localhost');
    const channels = url.searchParams.getAll('channel');
    const invalid = channels.find((channel) => !isValidChannel(channel));
    if (invalid !== undefined) return answer(response, 400, 'invalid_channel', `invalid channel ${JSON.stringify(invalid)}`);
    const patterns = url.searchParams.getAll('pattern');
    const bad = patterns.find((pattern) => patternError(pattern) !== null);
    if (bad !== undefined) return answer(response, 400, 'invalid_pattern', `invalid pattern ${JSON.stringify(bad)}: ${patternError(bad)}`);
    const admitted = this.hub.admit(request, request.socket, { originChecked: true }); // handleRequest checked the origin
    const proceed = (verdict: Awaited<typeof admitted>) => {
      if (request.socket.destroyed) return;
      if (isRefusal(verdict)) return answer(response, verdict.status, verdict.code, 'the connection was refused', verdict.headers);
      if (this.hub.closing) return answer(response, 503, 'closed', 'the server is shutting down; reconnect', { 'Retry-After': '1' });
      const header = request.headers['last-event-id'];
      const resume = parseResumeId(typeof header === 'string' ? header : url.searchParams.get('lastEventId'));
      this.stream(request, response, url.searchParams.get('events') !== 'unnamed', channels, resume, verdict.identity, patterns);
    };
    if (admitted instanceof Promise) admitted.then(proceed, () => answer(response, 500, 'internal', 'the connection failed'));
    else proceed(admitted);
  }

  private stream(request: IncomingMessage, response: ServerResponse, named: boolean, channels: string[],
    resume: ReturnType<typeof parseResumeId>, identity: Identity | null, patterns: string[]): void {
    request.socket.setNoDelay(true);
    request.socket.setTimeout(0);
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      // no-transform keeps compression middleware (and proxies) from buffering the stream.
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    const transport = new SseTransport(response, named ? this.named : this.unnamed);
    // The stream's request lives as long as the stream: a copy of all its headers would only add to it.
    const session = this.hub.open(transport, this.hub.requestInfo(request, { live: true }), identity);
    const secret = randomBytes(16);
    const token = `${this.hub.node}.${session.id}.${secret.toString('base64url')}`;
    this.streams.set(session.id, { session, secret });
    response.on('close', () => this.streams.delete(session.id));
    transport.bind(session);
    // Only what may stand in an id line as it is; the others are answered (an error, recovered:false) first.
    transport.resumeFrom(new Map([...resume].filter(([channel, { epoch }]) => isValidChannel(channel) && isCarriableEpoch(epoch))));
    response.write(`retry: ${this.hub.options.eventSourceRetry}\n${named ? `event: ${LIVEHUB_EVENT}\n` : ''}data: ${JSON.stringify({ type: 'stream', token })}\n\n`);
    // Resume every channel the id names, then subscribe to the URL's channels not among them.
    for (const [channel, since] of resume) session.receive(JSON.stringify({ type: 'subscribe', channel, since }));
    for (const channel of new Set(channels)) if (!resume.has(channel)) session.receive(JSON.stringify({ type: 'subscribe', channel }));
    // Patterns are live only: subscribed again on every (re)connect, with no resume point.
    for (const pattern of new Set(patterns)) session.receive(JSON.stringify({ type: 'subscribe', pattern }));
  }

  /** A companion POST: the command goes to its stream's session, here or on its node. */
  private command(request: IncomingMessage, response: ServerResponse): void {
    const token = request.headers['x-livehub-stream'];
    const parts = typeof token === 'string' ? token.split('.') : [];
    if (parts.length !== 3) return answer(response, 400, 'bad_stream', 'send the stream token from the stream\'s first event in X-Livehub-Stream');
    if (!isJson(request)) return answer(response, 415, 'unsupported_media_type', 'send the command as application/json');
    // Behind a body parser (express.json()), the body is already read: take it from there.
    const parsed = (request as { body?: unknown }).body;
    const body = parsed !== undefined && request.readableEnded ? Promise.resolve(JSON.stringify(parsed)) : readBody(request, MAX_COMMAND_BYTES).then((bytes) => bytes.toString('utf8'));
    body.then((text) => {
      const [node] = parts as [string, string, string];
      if (node !== this.hub.node) {
        return this.hub.sendToNode(node, FORWARD_TOPIC, JSON.stringify({ token, text })).then((reached) => {
          if (reached) return answer(response, 202, null, 'forwarded to the stream\'s node; the answer comes on the stream');
          // No node of that id runs: the stream is gone with its node, or the token is made up.
          this.hub.reporter.report('warn', 'no_stream_node', `livehub: an SSE command from ${request.socket.remoteAddress ?? 'unknown'} named node ${JSON.stringify(node.slice(0, 32))}, which no node sharing the engine is; answered 404 no_stream (a stream of a node that stopped reopens on its own)`, undefined, 'no_stream_node');
          answer(response, 404, 'no_stream', 'no such stream on any node (it closed, or its node stopped); reopen it');
        }, () => answer(response, 503, 'unavailable', 'the stream\'s node could not be reached; retry', { 'Retry-After': '1' }));
      }
      if (!this.deliver(token as string, text)) return answer(response, 404, 'no_stream', 'no such stream here (it closed); reopen it');
      answer(response, 202, null, 'the answer comes on the stream');
    }, (error: unknown) => {
      // A body over the cap is a 413 and the connection closes; one that could not be read, a 400.
      sendError(response, error instanceof ApiError ? error : new ApiError(400, ErrorCode.BadBody, 'the request body could not be read'), request);
    });
  }

  /** Hands a command to the stream the token names, if it is here and the secret matches. */
  private deliver(token: string, text: string): boolean {
    const [, id, secret] = token.split('.');
    const stream = this.streams.get(id ?? '');
    if (!stream || !secret) return false;
    const given = Buffer.from(secret, 'base64url');
    if (given.length !== stream.secret.length || !timingSafeEqual(given, stream.secret)) return false;
    stream.session.receive(text);
    return true;
  }
}

/** Request headers a cross-origin command may carry (its preflight asks for them). */
const COMMAND_HEADERS = new Set(['content-type', 'x-livehub-stream']);

/** The answer to a command's CORS preflight from an allowed origin: POST with its two headers. */
function preflight(request: IncomingMessage, response: ServerResponse): void {
  const asked = String(request.headers['access-control-request-headers'] ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
  const unknown = asked.filter((h) => !COMMAND_HEADERS.has(h));
  if (unknown.length > 0) return answer(response, 400, 'bad_preflight', `a command carries only Content-Type and X-Livehub-Stream, not ${unknown.join(', ')}`);
  response.writeHead(204, {
    'Access-Control-Allow-Methods': 'GET, POST',
    'Access-Control-Allow-Headers': 'Content-Type, X-Livehub-Stream',
    'Access-Control-Max-Age': '600',
  });
  response.end();
}

/** A JSON answer with a status (an error when `code` is set). */
function answer(response: ServerResponse, status: number, code: string | null, message: string, headers: Record<string, string> = {}): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  sendJson(response, status, code === null ? { accepted: true, message } : { error: { code, message } }, headers);
}
