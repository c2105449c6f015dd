/**
 * Webhooks: the hub's lifecycle events POSTed to the app's URL, signed, batched, retried with backoff,
 * bounded in memory.
 *
 * The hub's listeners run inside its loop, so the listener here only pushes onto a queue (O(1)); a
 * batch leaves when it is full or when its oldest event has waited `flushInterval`. One request is in
 * flight at a time, so batches arrive in order. Past `maxQueue` events held (waiting or in flight),
 * new events are dropped, counted and logged: a slow or dead endpoint costs bounded memory and never
 * delays the hub. Nothing here throws into the hub; every failure is counted and logged.
 */
import { randomUUID } from 'node:crypto';
import { checkKnownOptions } from '../options-check.js';
import { coreOf, Hub } from '../hub.js';
import type { Reporter } from '../core/report.js';
import type { HubEventName } from '../core/events.js';
import { backoffDelay } from './backoff.js';
import { attempt } from './delivery.js';
import { resolveWebhookOptions, type ResolvedWebhookOptions, type WebhookOptions } from './options.js';
import { queuedEvent, serializeBatch, type QueuedEvent } from './payload.js';
import { EventQueue } from './queue.js';

/** The hub whose events webhooks send. */
export type WebhookHub = Hub;

/** Events counted since `webhooks()` was called (requests and retries count requests). */
export interface WebhookCounters {
  /** Events waiting for a request now. */
  queued: number;
  /** Events in the request being sent now (or waiting to be retried). */
  inFlight: number;
  /** Events the endpoint accepted (2xx). */
  delivered: number;
  /** Events not queued because `maxQueue` events were held already. */
  dropped: number;
  /** Events the endpoint refused with a 4xx other than 429, or redirected (3xx): not retried. */
  rejected: number;
  /** Events given up after `retries` retries, at close's deadline, or that JSON could not hold. */
  failed: number;
  /** POSTs made, retries included. */
  requests: number;
  /** POSTs that were retries. */
  retried: number;
}

export interface CloseOptions {
  /** Milliseconds close() waits for the queue to be delivered before giving up the rest. Default 10,000. */
  timeout?: number;
}

export interface Webhooks {
  /** A snapshot of the counters. */
  readonly counters: WebhookCounters;
  /** Sends every event queued now without waiting for `flushInterval`; resolves once each was delivered or given up. */
  flush(): Promise<void>;
  /**
   * Stops listening to the hub, then flushes. Events still undelivered after `timeout` are given up
   * (counted as failed, logged). Call it after `hub.close()` to send the connections' close events too.
   */
  close(options?: CloseOptions): Promise<void>;
}

type Queued = QueuedEvent & { seq: number };

interface Waiter { seq: number; resolve: () => void }

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  if (signal.aborted) return resolve();
  const done = () => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(); };
  const timer = setTimeout(done, ms);
  timer.unref();
  signal.addEventListener('abort', done, { once: true });
});

class WebhookSender implements Webhooks {
  private readonly queue = new EventQueue<Queued>();
  private readonly counts = { delivered: 0, dropped: 0, rejected: 0, failed: 0, requests: 0, retried: 0 };
  private readonly offs: Array<() => void> = [];
  private readonly stop = new AbortController();
  private readonly waiters: Waiter[] = [];
  /** Where logs say events go: the URL without credentials or query. */
  private readonly target: string;
  private inFlight = 0;
  private lastSeq = 0;
  private doneSeq = 0;
  /** Events up to this sequence number leave without waiting for a full batch. */
  private dueSeq = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private closing: Promise<void> | null = null;

  private readonly reporter: Reporter;

  constructor(private readonly hub: WebhookHub, private readonly options: ResolvedWebhookOptions) {
    this.reporter = coreOf(hub).reporter;
    const url = new URL(options.url);
    this.target = `${url.origin}${url.pathname}`;
    try {
      for (const name of options.events) this.offs.push(hub.on(name, (event) => this.enqueue(name, event)));
    } catch (error) {
      for (const off of this.offs.splice(0)) off();
      throw error;
    }
  }

  get counters(): WebhookCounters {
    return { queued: this.queue.length, inFlight: this.inFlight, ...this.counts };
  }

  flush(): Promise<void> {
    const seq = this.lastSeq;
    if (seq <= this.doneSeq) return Promise.resolve();
    this.dueSeq = Math.max(this.dueSeq, seq);
    const done = new Promise<void>((resolve) => this.waiters.push({ seq, resolve }));
    this.run();
    return done;
  }

  close(options: CloseOptions = {}): Promise<void> {
    if (this.closing) return this.closing;
    checkKnownOptions(options, ['timeout'], 'webhooks close()');
    const { timeout = 10_000 } = options ?? {};
    if (typeof timeout !== 'number' || !(timeout >= 0)) throw new TypeError(`livehub: webhooks close() option 'timeout' must be a number of milliseconds, got ${String(timeout)}`);
    for (const off of this.offs.splice(0)) off();
    const deadline = setTimeout(() => this.stop.abort(), timeout);
    this.closing = this.flush().finally(() => {
      clearTimeout(deadline);
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
    });
    return this.closing;
  }

  /** The hub's listener: O(1), never throws. */
  private enqueue(type: HubEventName, data: unknown): void {
    try {
      const { maxQueue, batchSize } = this.options;
      if (this.queue.length + this.inFlight >= maxQueue) {
        this.counts.dropped++;
        this.reporter.report('warn', 'webhook_dropped',
          `livehub: webhook events for ${this.target} are dropped: ${maxQueue} are held already (maxQueue), the endpoint is down or slower than the events come; ` +
          `${this.counts.dropped} dropped so far; fix the endpoint, or raise maxQueue`);
        return;
      }
      this.queue.push({ ...queuedEvent(type, data), seq: ++this.lastSeq });
      if (this.queue.length >= batchSize) this.run();
      else this.arm();
    } catch (error) {
      this.reporter.error(error, 'webhook_internal');
    }
  }

  /** Starts sending on a later tick, unless already sending (the running loop picks new work up). */
  private run(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(() => {
      this.drain().catch((error: unknown) => this.reporter.error(error, 'webhook_internal')).finally(() => {
        this.running = false;
        this.settle();
        if (this.ready()) this.run();
      });
    });
  }

  /** Whether a batch should leave now: a full one, or events already due. */
  private ready(): boolean {
    const oldest = this.queue.peek();
    return oldest !== undefined && (this.queue.length >= this.options.batchSize || oldest.seq <= this.dueSeq || this.stop.signal.aborted);
  }

  private async drain(): Promise<void> {
    while (this.ready()) {
      const batch = this.queue.take(this.options.batchSize);
      this.inFlight = batch.length;
      try {
        await this.send(batch);
      } finally {
        this.inFlight = 0;
        this.doneSeq = batch[batch.length - 1]!.seq;
        this.settle();
      }
    }
    // Events left waiting (an incomplete batch) leave after flushInterval.
    if (this.queue.length > 0 && !this.closing) this.arm();
  }

  /** Unless already set: after flushInterval, the events queued by then are due. */
  private arm(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.dueSeq = Math.max(this.dueSeq, this.lastSeq);
      this.run();
    }, this.options.flushInterval);
    this.timer.unref();
  }

  /** Resolves the flushes whose events were all delivered or given up. */
  private settle(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i]!;
      if (waiter.seq <= this.doneSeq || (this.queue.length === 0 && this.inFlight === 0)) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /** Sends one batch, retrying as the policy says; never throws. */
  private async send(batch: Queued[]): Promise<void> {
    const { url, secret, timeout, retries, retryDelay, maxRetryDelay, fetch } = this.options;
    const { body, skipped } = serializeBatch(batch, this.hub.node);
    if (skipped > 0) {
      this.counts.failed += skipped;
      this.reporter.report('error', 'webhook_unserializable', `livehub: ${skipped} webhook event(s) for ${this.target} could not be encoded as JSON and were dropped`);
    }
    const count = batch.length - skipped;
    if (count === 0) return;
    const delivery = randomUUID();
    for (let tries = 0; ; tries++) {
      if (this.stop.signal.aborted) return this.giveUp(count, 'webhooks were closed and their close timeout passed');
      if (tries > 0) this.counts.retried++;
      this.counts.requests++;
      const result = await attempt({ fetch, url, secret, body, delivery, timeout, signal: this.stop.signal });
      if (result.outcome === 'delivered') {
        this.counts.delivered += count;
        return;
      }
      if (result.outcome === 'rejected') {
        this.counts.rejected += count;
        const hint = result.status < 400
          ? 'redirects are not followed: set url to the address it redirects to'
          : 'check its route and its signature verification';
        this.reporter.report('warn', 'webhook_rejected',
          `livehub: the webhook endpoint ${this.target} answered HTTP ${result.status}: ${count} event(s) dropped, not retried (only network errors, timeouts, 5xx and 429 are); ${hint}`,
          undefined, `webhook_rejected:${result.status}`);
        return;
      }
      if (this.stop.signal.aborted) return this.giveUp(count, 'webhooks were closed and their close timeout passed');
      if (tries >= retries) return this.giveUp(count, `${tries + 1} attempt(s) failed (retries: ${retries}), the last: ${result.reason}`);
      const wait = result.retryAfter !== null ? Math.min(result.retryAfter, maxRetryDelay) : backoffDelay(tries + 1, retryDelay, maxRetryDelay);
      this.reporter.report('debug', 'webhook_retry', `livehub: webhook request to ${this.target} failed (${result.reason}); retrying in ${wait} ms`);
      await sleep(wait, this.stop.signal);
    }
  }

  private giveUp(count: number, why: string): void {
    this.counts.failed += count;
    this.reporter.report('error', 'webhook_failed', `livehub: ${count} webhook event(s) for ${this.target} were given up: ${why}`);
  }
}

/**
 * POSTs the hub's events to `options.url` (see options.ts for every option and docs/webhooks.md for
 * the payload and how to verify it). Throws a TypeError for a bad option.
 */
export function webhooks(hub: WebhookHub, options: WebhookOptions): Webhooks {
  if (!(hub instanceof Hub)) {
    throw new TypeError('livehub: webhooks(hub, options) needs the Hub as its first argument');
  }
  return new WebhookSender(hub, resolveWebhookOptions(options));
}
