/**
 * Webhook options: what `webhooks(hub, options)` accepts, their defaults, and the checks that turn a
 * bad value into a TypeError naming the option (an unknown option names the closest valid one).
 */
import { checkKnownOptions } from '../options-check.js';
import type { HubEventName } from '../core/events.js';

/** The `fetch` webhooks call: the global one, or any function with its signature (undici, a mock). */
export type WebhookFetch = (url: string, init: {
  method: 'POST';
  headers: Record<string, string>;
  body: string;
  redirect: 'manual';
  signal: AbortSignal;
}) => Promise<{ status: number; headers: { get(name: string): string | null }; body?: { cancel(): Promise<void> } | null }>;

export interface WebhookOptions {
  /** Where events are POSTed: an `http:` or `https:` URL. Required. */
  url: string | URL;
  /** The HMAC-SHA256 key that signs every request (at least 16 characters). Required. */
  secret: string;
  /** Which hub events to send. Default: the lifecycle ones (see `LIFECYCLE_EVENTS`). */
  events?: readonly HubEventName[];
  /** Events per request at most, and a full batch is sent at once. Default 100. */
  batchSize?: number;
  /** Milliseconds an incomplete batch waits for more events before it is sent. Default 1000. */
  flushInterval?: number;
  /** Events held in memory at most (waiting and in flight); past it new events are dropped. Default 10,000. */
  maxQueue?: number;
  /** Further attempts of a batch after a network error, a timeout, a 5xx or a 429. Default 5. */
  retries?: number;
  /** Base of the exponential backoff between attempts, in milliseconds. Default 500. */
  retryDelay?: number;
  /** Longest wait between two attempts (Retry-After included), in milliseconds. Default 60,000. */
  maxRetryDelay?: number;
  /** Milliseconds one request may take (headers received); then it is aborted and retried. Default 5000. */
  timeout?: number;
  /** The fetch to use. Default `globalThis.fetch`. */
  fetch?: WebhookFetch;
}

/** What is sent when `events` is not given: connections, subscriptions and presence. */
export const LIFECYCLE_EVENTS: readonly HubEventName[] = Object.freeze([
  'connection.opened', 'connection.closed', 'subscribed', 'unsubscribed', 'presence.joined', 'presence.left',
] as const);

export const WEBHOOK_DEFAULTS = Object.freeze({
  batchSize: 100,
  flushInterval: 1000,
  maxQueue: 10_000,
  retries: 5,
  retryDelay: 500,
  maxRetryDelay: 60_000,
  timeout: 5000,
});

/** Shortest secret accepted (as for API keys): `openssl rand -hex 32` gives 64 characters. */
export const MIN_SECRET_LENGTH = 16;

export interface ResolvedWebhookOptions {
  url: string;
  secret: string;
  events: readonly HubEventName[];
  batchSize: number;
  flushInterval: number;
  maxQueue: number;
  retries: number;
  retryDelay: number;
  maxRetryDelay: number;
  timeout: number;
  fetch: WebhookFetch;
}

const KNOWN = ['url', 'secret', 'events', 'batchSize', 'flushInterval', 'maxQueue', 'retries', 'retryDelay', 'maxRetryDelay', 'timeout', 'fetch'] as const;
const WHERE = 'webhooks()';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  return typeof value;
}

function integer(options: WebhookOptions, name: keyof typeof WEBHOOK_DEFAULTS, min: number): number {
  const value = options[name] ?? WEBHOOK_DEFAULTS[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`livehub: ${WHERE} option '${name}' must be an integer of at least ${min}, got ${describe(value)}`);
  }
  return value;
}

/** Checks `options` and fills in the defaults; throws a TypeError naming the first bad option. */
export function resolveWebhookOptions(options: WebhookOptions): ResolvedWebhookOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`livehub: ${WHERE} needs options: webhooks(hub, { url: 'https://app.example/hooks', secret: process.env.LIVEHUB_WEBHOOK_SECRET })`);
  }
  checkKnownOptions(options, KNOWN, WHERE);
  const { url, secret } = options;
  if (url === undefined) throw new TypeError(`livehub: ${WHERE} needs a 'url' to POST events to`);
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new TypeError(`livehub: ${WHERE} option 'url' must be an absolute http: or https: URL, got ${describe(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError(`livehub: ${WHERE} option 'url' must be an http: or https: URL, got ${parsed.protocol}`);
  }
  if (typeof secret !== 'string') throw new TypeError(`livehub: ${WHERE} needs a 'secret' string to sign requests with, got ${describe(secret)}`);
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new TypeError(`livehub: ${WHERE} option 'secret' is too short (${secret.length} characters): use at least ${MIN_SECRET_LENGTH}, e.g. from \`openssl rand -hex 32\``);
  }
  const events = options.events ?? LIFECYCLE_EVENTS;
  if (!Array.isArray(events) || events.length === 0 || !events.every((name) => typeof name === 'string')) {
    throw new TypeError(`livehub: ${WHERE} option 'events' must be a non-empty array of hub event names, e.g. ['connection.opened', 'connection.closed']`);
  }
  const fetch = options.fetch ?? globalThis.fetch;
  if (typeof fetch !== 'function') {
    throw new TypeError(`livehub: ${WHERE} option 'fetch' must be a function${options.fetch === undefined ? ' (this runtime has no globalThis.fetch: pass one)' : `, got ${describe(options.fetch)}`}`);
  }
  const resolved: ResolvedWebhookOptions = {
    url: parsed.href,
    secret,
    events: [...new Set(events as HubEventName[])],
    batchSize: integer(options, 'batchSize', 1),
    flushInterval: integer(options, 'flushInterval', 0),
    maxQueue: integer(options, 'maxQueue', 1),
    retries: integer(options, 'retries', 0),
    retryDelay: integer(options, 'retryDelay', 1),
    maxRetryDelay: integer(options, 'maxRetryDelay', 1),
    timeout: integer(options, 'timeout', 1),
    fetch: fetch as WebhookFetch,
  };
  if (resolved.maxQueue < resolved.batchSize) {
    throw new TypeError(`livehub: ${WHERE} option 'maxQueue' (${resolved.maxQueue}) must be at least 'batchSize' (${resolved.batchSize})`);
  }
  if (resolved.maxRetryDelay < resolved.retryDelay) {
    throw new TypeError(`livehub: ${WHERE} option 'maxRetryDelay' (${resolved.maxRetryDelay}) must be at least 'retryDelay' (${resolved.retryDelay})`);
  }
  return resolved;
}
