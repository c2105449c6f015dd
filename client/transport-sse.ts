import { CloseCode, shouldReconnect, type StreamPosition } from '../pkg/protocol/index.js';
import { parseResumeId } from '../pkg/protocol/index.js';
import { LiveError } from './errors.js';
import type { Connection, ConnectionHandlers } from './transport-connection.js';

/**
 * The Server-Sent Events transport: an `EventSource` on the hub's SSE endpoint receives every frame
 * (`events=unnamed`, so `onmessage` sees them all), and each command goes as a companion `POST` to the
 * same URL with the stream's token (from its first event) in `X-Livehub-Stream`; the answer comes on
 * the stream. POSTs go one at a time, so commands arrive in the order they were sent.
 *
 * When the stream drops, the EventSource reconnects by itself, sending the last event id, from which
 * the server resumes every channel (see pkg/transport/sse/stream.ts); the client is told which,
 * and subscribes only the others. If that reconnect fails too, the client takes over with its own
 * backoff and a fresh EventSource.
 */

/**
 * A handler property the browser's and the `eventsource` package's handlers can be assigned to
 * (declared as a method, its parameter is compared both ways; see socket.ts).
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of the EventSource API the client uses: the browser's, or the `eventsource` package's. */
export interface EventSourceLike {
  readonly readyState: number;
  onmessage: Handler<{ data: string; lastEventId: string }> | null;
  /** The `eventsource` package adds the HTTP status (`code`) and a message; browsers give neither. */
  onerror: Handler<{ code?: number; message?: string }> | null;
  close(): void;
}

/** `EventSource` of the browser or of the `eventsource` package (Node 20 has none). */
export type EventSourceConstructor = new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;

const CLOSED = 2;
/** The close code of a connection that ended without saying why (as a WebSocket's). */
const ABNORMAL = 1006;

/** The implementation to use: the option, else `globalThis.EventSource`; an Error naming the fix otherwise. */
export function findEventSource(option: EventSourceConstructor | undefined): EventSourceConstructor | Error {
  if (option) return option;
  const global = (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
  if (global) return global;
  return new Error('there is no global EventSource (Node has none)');
}

/**
 * The SSE URL that goes with a WebSocket URL: same host and port, `http(s)` for `ws(s)`, path
 * `/events`, the query kept (`ws://h/ws?x=1` → `http://h/events?x=1`).
 */
export function eventsUrlFor(webSocketUrl: string): string {
  const url = new URL(webSocketUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol;
  url.pathname = '/events';
  url.hash = '';
  return url.toString();
}

/** Resolves a relative SSE URL (`/events`) against the page; absolute ones are kept. */
export function resolveEventsUrl(url: string): string {
  const location = (globalThis as { location?: Location }).location;
  if (/^https?:\/\//i.test(url) || !location) return url;
  return new URL(url, location.href).toString();
}

/** The stream's URL: `events=unnamed`, and the token parameter when there is one. */
export function streamUrl(eventsUrl: string, token: { parameter: string; value: string } | null): string {
  const url = new URL(eventsUrl);
  url.searchParams.set('events', 'unnamed');
  if (token) url.searchParams.set(token.parameter, token.value);
  return url.toString();
}

export interface SseSetup {
  /** Where commands are POSTed (the SSE endpoint, without the stream's parameters). */
  postUrl: string;
  fetch: typeof fetch;
}

/** Whether `url` is on another origin than the page (never outside a browser). */
function crossOrigin(url: string): boolean {
  const location = (globalThis as { location?: Location }).location;
  return location?.origin !== undefined && new URL(url).origin !== location.origin;
}

/**
 * Opens a stream. Throws what the EventSource constructor throws (a bad URL). A stream on another
 * origin (which the hub's `origins` must allow) is opened with credentials, so the page's cookies
 * for the hub's site go along as they would to a WebSocket; commands are sent with them too.
 */
export function openEventSource(Ctor: EventSourceConstructor, url: string, setup: SseSetup, handlers: ConnectionHandlers): Connection {
  const source = crossOrigin(url) ? new Ctor(url, { withCredentials: true }) : new Ctor(url);
  let phase: 'connecting' | 'open' | 'done' = 'connecting';
  /** The stream's token (from its first event); null between streams. */
  let token: string | null = null;
  /** The id the EventSource sends back when it reconnects by itself (its last event's). */
  let lastEventId = '';
  /** Whether this EventSource has dropped and is reconnecting by itself (then the server resumes). */
  let reconnecting = false;
  /** The server said why it ends the stream: the error that follows is that end, not a failure. */
  let endAnnounced = false;
  let posts: Promise<void> = Promise.resolve();

  const finish = (code: number, reason: string) => {
    if (phase === 'done') return;
    phase = 'done';
    token = null;
    detach(source);
    handlers.closed(code, reason);
  };

  const interrupt = (code: number, reason: string) => {
    phase = 'connecting';
    token = null;
    reconnecting = true;
    handlers.interrupted(code, reason);
  };

  source.onmessage = (event) => {
    if (phase === 'done') return;
    if (event.lastEventId) lastEventId = event.lastEventId;
    const text = event.data;
    if (text.startsWith('{"type":"stream"')) {
      const given = (JSON.parse(text) as { token?: unknown }).token;
      if (typeof given !== 'string') return finish(CloseCode.ProtocolError, 'the stream sent no token');
      token = given;
      phase = 'open';
      endAnnounced = false;
      const resumed: ReadonlyMap<string, StreamPosition> = reconnecting ? parseResumeId(lastEventId) : new Map();
      handlers.open(resumed);
      return;
    }
    if (text.startsWith('{"type":"close"')) {
      const { code, reason } = JSON.parse(text) as { code: number; reason: string };
      // Terminal codes end it for good, and a new token needs a new URL: the client reopens.
      if (!shouldReconnect(code) || code === CloseCode.TokenExpired) {
        source.close();
        return finish(code, reason);
      }
      endAnnounced = true;
      if (phase === 'open') interrupt(code, reason);
      return;
    }
    if (phase === 'open') handlers.message(text);
  };

  source.onerror = (event) => {
    if (phase === 'done') return;
    const reason = event?.code ? `HTTP ${event.code}${event.message ? ` ${event.message}` : ''}` : 'the stream failed';
    if (phase === 'open') {
      // Dropped: the EventSource reconnects by itself, unless it gave up (then the client reconnects).
      if (source.readyState === CLOSED) return finish(ABNORMAL, reason);
      return interrupt(ABNORMAL, 'the stream dropped');
    }
    if (endAnnounced && source.readyState !== CLOSED) {
      endAnnounced = false; // the end of a stream the server closed; the EventSource reconnects
      return;
    }
    // Failed before its stream began: the client decides what comes next.
    source.close();
    finish(ABNORMAL, reason);
  };

  const post = (text: string, streamToken: string): Promise<void> => setup.fetch(setup.postUrl, {
    method: 'POST',
    credentials: 'include',
    headers: { 'Content-Type': 'application/json', 'X-Livehub-Stream': streamToken },
    body: text,
  }).then(async (response) => {
    if (response.ok) return;
    const body = await response.json().catch(() => null) as { error?: { code?: string; message?: string } } | null;
    const code = body?.error?.code ?? `http_${response.status}`;
    if (response.status === 404 && token === streamToken) {
      // The server no longer has this stream: it is gone, whatever the EventSource believes.
      source.close();
      return finish(ABNORMAL, 'the stream is gone (the server does not know its token)');
    }
    handlers.failed(new LiveError(code, `a command POST to ${setup.postUrl} was refused (${response.status}): ${body?.error?.message ?? response.statusText}`));
  }, (error: Error) => {
    if (phase !== 'done') handlers.failed(new LiveError('post_failed', `a command POST to ${setup.postUrl} failed: ${error.message}`));
  });

  return {
    transport: 'sse',
    confirms: true,
    dialect: 'livehub',
    get isOpen() { return phase === 'open'; },
    send(text) {
      const streamToken = token;
      if (phase !== 'open' || !streamToken) return;
      posts = posts.then(() => (token === streamToken ? post(text, streamToken) : undefined));
    },
    close() {
      if (phase === 'done') return;
      phase = 'done';
      token = null;
      detach(source);
      source.close();
    },
  };
}

function detach(source: EventSourceLike): void {
  source.onmessage = null;
  source.onerror = null;
}
