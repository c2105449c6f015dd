import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkKnownOptions } from '../options-check.js';
import type { Hub } from '../hub.js';
import { hubState } from './listen.js';

/**
 * Health endpoints for load balancers and orchestrators:
 * - `live` (`GET /health/live`): 200 while the process serves HTTP at all. Restart it when this fails.
 * - `ready` (`GET /health/ready`): 200 while this node should get new connections; 503 while the
 *   engine cannot reach its store (Redis down: publishes would fail) and from the moment the node
 *   drains or closes (`hub.drain()`, `hub.close()`), so the balancer sends clients elsewhere.
 *
 * Both answer JSON: `{"status":"ok"|"unavailable","node":…,"engine":"up"|"down","draining":bool}`,
 * never cached. `checks` adds the app's own readiness conditions (a database, a warm cache).
 */
export interface HealthOptions {
  /** More readiness checks: each returns (or resolves to) true when ready; false or a throw is not ready. */
  checks?: Record<string, () => boolean | Promise<boolean>>;
  /** Milliseconds an app check may take before it counts as failed (default 2000). */
  checkTimeout?: number;
}

export type HealthHandler = (request: IncomingMessage, response: ServerResponse) => void;

export function healthHandlers(hub: Hub, options: HealthOptions = {}): { live: HealthHandler; ready: HealthHandler } {
  if (options === null || typeof options !== 'object') throw new TypeError('livehub: healthHandlers options must be an object');
  checkKnownOptions(options, ['checks', 'checkTimeout'], 'healthHandlers()');
  const { checks = {}, checkTimeout = 2000 } = options;
  if (checks === null || typeof checks !== 'object') throw new TypeError('livehub: healthHandlers checks must be an object of functions');
  for (const [name, check] of Object.entries(checks)) {
    if (typeof check !== 'function') throw new TypeError(`livehub: healthHandlers check ${JSON.stringify(name)} must be a function`);
  }
  if (!Number.isFinite(checkTimeout) || checkTimeout <= 0) throw new TypeError('livehub: healthHandlers checkTimeout must be a positive number of milliseconds');

  const live: HealthHandler = (request, response) => {
    if (!allowed(request, response)) return;
    send(request, response, 200, { status: 'ok', node: hub.node, uptime: hub.info().uptime });
  };

  const ready: HealthHandler = (request, response) => {
    if (!allowed(request, response)) return;
    const { engineUp, draining } = hubState(hub);
    void runChecks(checks, checkTimeout).then((failed) => {
      const ok = engineUp && !draining && failed.length === 0;
      const reasons = [...(engineUp ? [] : ['engine unreachable']), ...(draining ? ['draining'] : []), ...failed.map((name) => `check ${name} failed`)];
      send(request, response, ok ? 200 : 503, {
        status: ok ? 'ok' : 'unavailable', node: hub.node, engine: engineUp ? 'up' : 'down', draining,
        ...(reasons.length > 0 ? { reasons } : {}),
      });
    });
  };
  return { live, ready };
}

/** Names of the checks that failed, threw or timed out. */
async function runChecks(checks: Record<string, () => boolean | Promise<boolean>>, timeout: number): Promise<string[]> {
  const entries = Object.entries(checks);
  if (entries.length === 0) return [];
  const results = await Promise.all(entries.map(async ([name, check]) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const ok = await Promise.race([
        Promise.resolve().then(check),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeout); }),
      ]);
      return ok === true ? null : name;
    } catch {
      return name;
    } finally {
      clearTimeout(timer);
    }
  }));
  return results.filter((name): name is string => name !== null);
}

function allowed(request: IncomingMessage, response: ServerResponse): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return true;
  response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'application/json' });
  response.end(JSON.stringify({ status: 'error', code: 'method_not_allowed', message: 'use GET' }));
  return false;
}

function send(request: IncomingMessage, response: ServerResponse, status: number, body: object): void {
  response.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...(status === 503 ? { 'Retry-After': '5' } : {}) });
  response.end(request.method === 'HEAD' ? undefined : JSON.stringify(body));
}
