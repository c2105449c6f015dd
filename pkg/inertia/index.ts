import type { IncomingMessage, ServerResponse } from 'node:http';
import type {} from 'express';

/**
 * livehub/inertia: a small Express adapter for the Inertia protocol (https://inertiajs.com/the-protocol).
 * `app.use(inertia({ version, render }))`, then `res.inertia('Component', props)` in a handler.
 */

/** The Inertia page object. */
export interface Page {
  component: string;
  props: Record<string, unknown>;
  url: string;
  version: string | null;
}

export interface InertiaOptions {
  /**
   * The asset version. An Inertia GET carrying another version gets 409 with `X-Inertia-Location`,
   * and the browser does a full visit.
   * @default null (no check)
   */
  version?: string | null | (() => string | null);
  /**
   * Renders the HTML document of a first (non-Inertia) visit. `pageScript` is the ready
   * `<script data-page="app" type="application/json">` element to put before the app's mount point.
   */
  render: (page: Page, pageScript: string, request: IncomingMessage) => string | Promise<string>;
}

/** A prop value, or a function computing it only when the prop is sent (partial reloads skip it). */
export type Props = Record<string, unknown | (() => unknown | Promise<unknown>)>;

declare module 'express-serve-static-core' {
  interface Response {
    /** Responds with an Inertia page: JSON for Inertia visits, the HTML document otherwise. */
    inertia(component: string, props?: Props): Promise<void>;
  }
}

type Next = (error?: unknown) => void;
type Req = IncomingMessage & { originalUrl?: string; method?: string };
type Res = ServerResponse & { inertia?: (component: string, props?: Props) => Promise<void>; redirect?: (...args: never[]) => void };

/** The page JSON inside a `<script type="application/json">`: `<` is escaped so no `</script>` can end it. */
export function pageScript(page: Page, id = 'app'): string {
  const json = JSON.stringify(page).replace(/</g, '\\u003c');
  return `<script data-page="${id}" type="application/json">${json}</script>`;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function list(value: string | undefined): string[] | null {
  return value ? value.split(',').map((s) => s.trim()).filter(Boolean) : null;
}

/** Resolves the props a response carries, honouring partial-reload headers. */
export async function resolveProps(request: IncomingMessage, component: string, props: Props): Promise<Record<string, unknown>> {
  let keys = Object.keys(props);
  if (header(request, 'x-inertia-partial-component') === component) {
    const only = list(header(request, 'x-inertia-partial-data'));
    const except = list(header(request, 'x-inertia-partial-except'));
    if (only) keys = keys.filter((key) => only.includes(key));
    if (except) keys = keys.filter((key) => !except.includes(key));
  }
  const resolved: Record<string, unknown> = {};
  for (const key of keys) {
    const value = props[key];
    resolved[key] = typeof value === 'function' ? await (value as () => unknown)() : value;
  }
  return resolved;
}

export function inertia(options: InertiaOptions) {
  if (!options || typeof options.render !== 'function') throw new TypeError('livehub/inertia: options.render must be a function');
  const currentVersion = () => (typeof options.version === 'function' ? options.version() : options.version ?? null);

  return function inertiaMiddleware(request: Req, response: Res, next: Next): void {
    const isInertia = header(request, 'x-inertia') === 'true';
    const version = currentVersion();
    if (isInertia && request.method === 'GET' && version !== null && header(request, 'x-inertia-version') !== version) {
      response.writeHead(409, { 'X-Inertia-Location': request.originalUrl ?? request.url ?? '/' });
      response.end();
      return;
    }
    if (isInertia && ['PUT', 'PATCH', 'DELETE'].includes(request.method ?? '') && typeof response.redirect === 'function') {
      // Inertia expects 303 after non-GET visits, so the browser follows with a GET.
      const redirect = response.redirect.bind(response) as (status: number, url: string) => void;
      (response as unknown as { redirect: (a: unknown, b?: unknown) => void }).redirect = (a, b) =>
        typeof a === 'number' ? redirect(a === 302 ? 303 : a, String(b)) : redirect(303, String(a));
    }
    response.inertia = async (component: string, props: Props = {}) => {
      try {
        const page: Page = {
          component,
          props: await resolveProps(request, component, props),
          url: request.originalUrl ?? request.url ?? '/',
          version,
        };
        if (isInertia) {
          response.writeHead(200, { 'Content-Type': 'application/json', 'X-Inertia': 'true', Vary: 'X-Inertia' });
          response.end(JSON.stringify(page));
          return;
        }
        const html = await options.render(page, pageScript(page), request);
        response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', Vary: 'X-Inertia' });
        response.end(html);
      } catch (error) {
        next(error);
      }
    };
    next();
  };
}
