/** What the client does when the browser's network or the page's visibility changes. */
export interface EnvironmentHandlers {
  online(): void;
  offline(): void;
  visible(): void;
}

/**
 * In browsers, calls the handlers on `online`, `offline` and the page becoming visible; elsewhere
 * does nothing. Returns a function that removes the listeners.
 */
export function watchEnvironment(handlers: EnvironmentHandlers): () => void {
  const target = globalThis as { addEventListener?: typeof addEventListener; removeEventListener?: typeof removeEventListener; document?: Document };
  if (typeof target.addEventListener !== 'function') return () => {};
  const onOnline = () => handlers.online();
  const onOffline = () => handlers.offline();
  const onVisible = () => { if (target.document?.visibilityState === 'visible') handlers.visible(); };
  target.addEventListener('online', onOnline);
  target.addEventListener('offline', onOffline);
  target.document?.addEventListener('visibilitychange', onVisible);
  return () => {
    target.removeEventListener?.('online', onOnline);
    target.removeEventListener?.('offline', onOffline);
    target.document?.removeEventListener('visibilitychange', onVisible);
  };
}

/** False when the browser says there is no network; true elsewhere. */
export function isOnline(): boolean {
  return (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine !== false;
}

/**
 * True in a development build: wherever `process.env.NODE_ENV` is not `'production'`. Bundlers
 * (Vite, webpack, esbuild, Rollup with its replace plugin) write the build's mode in its place, as
 * they do for Vue and React; Node reads it from the environment. A page loaded with no bundler,
 * where there is no `process`, counts as production. The client warns in the console in
 * development builds only (a refused subscribe, publish or request, once per channel and cause).
 */
export function isDevelopment(): boolean {
  try {
    // Written out in full so that bundlers replace it.
    return process.env.NODE_ENV !== 'production';
  } catch {
    return false;
  }
}
