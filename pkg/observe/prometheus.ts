import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { checkKnownOptions } from '../options-check.js';
import { coreOf, type Hub } from '../hub.js';
import { HubMetrics } from './metrics.js';

/**
 * `GET /metrics` for Prometheus: `app.get('/metrics', metricsHandler(hub))`, or, for an app that
 * already exposes a prom-client registry, `metricsHandler(hub, { registry })` and keep serving it.
 * See docs/operations.md for every metric.
 */
export interface MetricsHandlerOptions {
  /** The prom-client registry to register on (default: a registry of its own). */
  registry?: Registry;
  /** Prefix of every metric name (default `livehub_`). */
  prefix?: string;
  /** Also Node's default metrics (`process_*`, `nodejs_*`), through prom-client (default false). */
  defaultMetrics?: boolean;
  /** Times inbound commands (`<prefix>command_duration_seconds{type}`) with a `hub.use` middleware (default false). */
  commandDuration?: boolean;
}

export interface MetricsHandler {
  (request: IncomingMessage, response: ServerResponse): void;
  /** The registry the metrics are on. */
  readonly registry: Registry;
  /** Stops updating the metrics and removes them from the registry. */
  close(): void;
}

const KNOWN = ['registry', 'prefix', 'defaultMetrics', 'commandDuration'] as const;
const PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function metricsHandler(hub: Hub, options: MetricsHandlerOptions = {}): MetricsHandler {
  if (options === null || typeof options !== 'object') throw new TypeError('livehub: metricsHandler options must be an object');
  checkKnownOptions(options, KNOWN, 'metricsHandler()');
  const { registry = new Registry(), prefix = 'livehub_', defaultMetrics = false, commandDuration = false } = options;
  // Duck-typed: the app's Registry may come from another copy of prom-client.
  const shape = registry as Partial<Record<'registerMetric' | 'getSingleMetric' | 'removeSingleMetric' | 'metrics', unknown>> | null;
  if (shape === null || typeof shape !== 'object' || !(['registerMetric', 'getSingleMetric', 'removeSingleMetric', 'metrics'] as const).every((m) => typeof shape[m] === 'function')) {
    throw new TypeError('livehub: metricsHandler registry must be a prom-client Registry');
  }
  if (typeof prefix !== 'string' || (prefix !== '' && !PREFIX.test(prefix))) throw new TypeError(`livehub: metricsHandler prefix ${JSON.stringify(prefix)} is not a Prometheus name prefix (letters, digits, _ and :, not starting with a digit)`);
  for (const [name, value] of [['defaultMetrics', defaultMetrics], ['commandDuration', commandDuration]] as const) {
    if (typeof value !== 'boolean') throw new TypeError(`livehub: metricsHandler ${name} must be a boolean`);
  }
  const metrics = new HubMetrics(hub, { registry, prefix, commandDuration });
  if (defaultMetrics) collectDefaultMetrics({ register: registry });

  const handler = ((request: IncomingMessage, response: ServerResponse): void => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('method not allowed: GET /metrics\n');
      return;
    }
    registry.metrics().then((text) => {
      response.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
      response.end(request.method === 'HEAD' ? undefined : text);
    }, (error: unknown) => {
      coreOf(hub).reporter.report('error', 'metrics_failed', `livehub: collecting /metrics failed: ${error instanceof Error ? error.message : String(error)}; the scrape was answered 500`, error);
      if (!response.headersSent) response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('metrics collection failed; see the server log (metrics_failed)\n');
    });
  }) as MetricsHandler;
  Object.defineProperty(handler, 'registry', { value: registry });
  Object.defineProperty(handler, 'close', { value: () => metrics.close() });
  return handler;
}
