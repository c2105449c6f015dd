import { router as inertiaRouter } from '@inertiajs/vue3';
import type { LiveClient } from './live-client.js';
import { useLiveUpdate, type UseLiveUpdateReturn } from './vue.js';

/** livehub/inertia/vue: turn hub events into Inertia partial reloads. */

export interface ReloadOnOptions {
  /**
   * Props to reload (`router.reload({ only })`).
   * @default all props
   */
  only?: string[];
  /**
   * Only messages of these types trigger a reload.
   * @default every message on the channel
   */
  types?: string[];
  /**
   * The same as `types` (giving both is a TypeError).
   * @deprecated Use `types`.
   */
  events?: string[];
  /**
   * Milliseconds to gather events into one reload.
   * @default 0 (events of the same tick make one reload)
   */
  debounce?: number;
  /**
   * The connection to listen on.
   * @default the client provided by `createLivehub` (through `useLiveUpdate()`)
   */
  live?: Pick<UseLiveUpdateReturn, 'on' | 'getClient'> | LiveClient | LegacyLive;
  /**
   * The Inertia router.
   * @default `router` from `@inertiajs/vue3`
   */
  router?: { reload(options: { only?: string[] }): void };
}

/** A connection given the way it was before `getClient()`: `{ on, client }`, the client with `addEventListener` alone. */
type LegacyLive = Pick<UseLiveUpdateReturn, 'on'> & { client?: Partial<Pick<LiveClient, 'events' | 'addEventListener'>> };

/** How to listen to the connection's `gap` events, whatever form `live` takes (nothing when it cannot). */
function gapsOf(live: NonNullable<ReloadOnOptions['live']>): LiveClient['events']['on'] | undefined {
  type ClientLike = Partial<Pick<LiveClient, 'events' | 'addEventListener'>>;
  const client: ClientLike | undefined = 'getClient' in live ? live.getClient() : 'client' in live ? live.client : (live as LiveClient);
  if (client?.events) return client.events.on;
  // A stand-in shaped like the old client (only `addEventListener`): a real LiveClient has `events`, so nothing warns.
  return client?.addEventListener?.bind(client) as LiveClient['events']['on'] | undefined;
}

/**
 * `reloadOn('orders', { only: ['orders'] })`: when a message arrives on `orders`, reload those props;
 * also when the connection could not recover what it missed on `orders` (a `gap`), so the page never
 * shows stale data. Returns a function that stops it; inside a component it stops with the component.
 */
export function reloadOn(channel: string, options: ReloadOnOptions = {}): () => void {
  const { only, debounce = 0, router = inertiaRouter } = options;
  if (options.types !== undefined && options.events !== undefined) {
    throw new TypeError('livehub: reloadOn: options types and events are the same option; give only types (events is deprecated)');
  }
  const types = options.types ?? options.events;
  const live = options.live ?? useLiveUpdate();
  let timer: ReturnType<typeof setTimeout> | null = null;
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      router.reload(only ? { only } : {});
    }, debounce);
  };
  const off = live.on(channel, (_data, message) => {
    if (!types || types.includes(message.type)) schedule();
  });
  const offGap = gapsOf(live)?.('gap', (event) => { if (event.channel === channel) schedule(); });
  return () => {
    if (timer) clearTimeout(timer);
    timer = null;
    off();
    offGap?.();
  };
}
