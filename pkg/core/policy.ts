import type { IncomingMessage } from 'node:http';
import type { Identity } from './auth.js';
import { USER_CHANNEL_PREFIX, userChannel } from '../protocol/index.js';

export { USER_CHANNEL_PREFIX, userChannel };

/**
 * Channel authorization: who may subscribe to and publish on which channel.
 *
 * Built-in rules, applied first and not overridable:
 * - channels starting with `#` are the server's own (`#user:<id>`, a user's presence set): no client
 *   may subscribe or publish there;
 * - `user:<id>` is the personal channel of user `<id>` (`userChannel(id)`: characters a channel name
 *   cannot hold are escaped): only that user may subscribe to it (`hub.sendToUser` reaches it).
 * Then, when the hub has an `authorize` hook, it decides. Without one:
 * - subscribe: allowed, except to `private-…` and `presence-…` channels;
 * - publish: decided by `canPublish`; without it, denied.
 */

export type Action = 'subscribe' | 'publish';

/** What `authorize` is asked. */
export interface AuthorizeRequest {
  action: Action;
  /** The channel; for a pattern subscription (`pattern: true`), the pattern, as `sensors/+/temp`. */
  channel: string;
  /** True when `channel` is a pattern: allowing it allows every channel it matches (docs/protocol.md). */
  pattern?: true;
  /** The connection's identity, from `authenticate`; null for anonymous connections. */
  identity: Identity | null;
  clientId: string;
  /** For publish: the published message's type. */
  type?: string;
  /** @deprecated The published message's type is `type`. */
  event?: string;
  data?: unknown;
  /** The upgrade request's headers, URL and socket (cookies, remote address). */
  request: RequestInfo;
}

/**
 * What a connection keeps of its upgrade request for policies: the headers, URL and socket. The
 * whole IncomingMessage (raw headers, stream state) is not kept for the life of every connection.
 */
export type RequestInfo = Pick<IncomingMessage, 'headers' | 'url' | 'method' | 'socket'>;

export function requestInfo(request: IncomingMessage): RequestInfo {
  return { headers: request.headers, url: request.url, method: request.method, socket: request.socket };
}

/**
 * Headers of the HTTP/1.1 upgrade itself. They tell policies nothing about the client, and each
 * connection would keep them for its whole life: about 140 bytes of V8 heap a connection.
 */
const HANDSHAKE_HEADERS = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'upgrade', 'connection']);

/**
 * What a connection keeps of its request for policies and handlers, for its whole life: its request
 * info with the headers `keep` names (the `keepHeaders` option; null: all), never the handshake's own.
 */
export function keptRequestInfo(request: IncomingMessage, keep: ReadonlySet<string> | null): RequestInfo {
  const info = requestInfo(request);
  const headers: IncomingMessage['headers'] = {};
  for (const name in request.headers) {
    if (keep === null ? !HANDSHAKE_HEADERS.has(name) : keep.has(name)) headers[name] = request.headers[name];
  }
  info.headers = headers;
  return info;
}

/** The `keepHeaders` option, resolved: a set of lower-case names, or null for all. */
export function resolveKeepHeaders(value: unknown): ReadonlySet<string> | null {
  if (value === undefined || value === 'all') return null;
  if (!Array.isArray(value) || !value.every((name) => typeof name === 'string' && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))) {
    throw new TypeError(`livehub: option keepHeaders must be 'all' or an array of header names, got ${JSON.stringify(value)}`);
  }
  return new Set(value.map((name: string) => name.toLowerCase()));
}

export type Authorize = (request: AuthorizeRequest) => boolean | Promise<boolean>;

const PROTECTED = ['private-', 'presence-'];

export function isProtectedChannel(channel: string): boolean {
  return PROTECTED.some((prefix) => channel.startsWith(prefix));
}

/**
 * The verdict for one request: a boolean, or a promise of one when a hook is async. A hook that
 * throws or rejects denies (the error goes to `onError`).
 */
export function decide(
  request: AuthorizeRequest,
  hooks: { authorize: Authorize | null; canPublish: ((request: AuthorizeRequest) => boolean | Promise<boolean>) | null },
  onError: (error: Error) => void,
): boolean | Promise<boolean> {
  const { action, channel, identity } = request;
  if (channel.startsWith('#')) return false;
  if (action === 'subscribe' && channel.startsWith(USER_CHANNEL_PREFIX)) {
    return identity !== null && channel === userChannel(identity.userId);
  }
  const hook = hooks.authorize ?? (action === 'publish' ? hooks.canPublish : null);
  if (!hook) return action === 'subscribe' && !isProtectedChannel(channel);
  let verdict: boolean | Promise<boolean>;
  try {
    verdict = hook(request);
  } catch (error) {
    onError(error as Error);
    return false;
  }
  if (typeof verdict === 'object' && verdict !== null && typeof (verdict as Promise<boolean>).then === 'function') {
    return Promise.resolve(verdict).then((v) => v === true, (error: Error) => { onError(error); return false; });
  }
  return verdict === true;
}

/** Why `decide` denied a request, and what would let it pass: for the hub's log line. */
export function refusalReason(
  request: Pick<AuthorizeRequest, 'action' | 'channel' | 'identity'>,
  hooks: { authorize: Authorize | null; canPublish: unknown },
): string {
  const { action, channel, identity } = request;
  if (channel.startsWith('#')) return 'channels starting with "#" are the hub\'s own; use another name';
  if (action === 'subscribe' && channel.startsWith(USER_CHANNEL_PREFIX)) {
    return identity === null
      ? 'personal channels need an authenticated connection (the hub\'s authenticate option)'
      : `only their user may subscribe to a personal channel; the connection's own is ${userChannel(identity.userId)}, joined at connect`;
  }
  if (hooks.authorize) return `the authorize hook did not return true for this ${action}; allow it there if it should pass`;
  if (action === 'publish') return 'clients may not publish without a canPublish or authorize hook that allows it';
  return 'private- and presence- channels need an authorize hook that allows them (HubOptions.authorize)';
}
