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
