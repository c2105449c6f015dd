import { getCurrentScope, hasInjectionContext, inject, onScopeDispose, type App, type InjectionKey } from '@vue/runtime-core';
import { LiveClient } from './live-client.js';
import type { LiveClientOptions } from './options.js';

/**
 * The client a Vue app shares (`app.use(createLivehub(url))`) and how composables find it and end
 * with their scope: used by livehub/vue and livehub/webrtc/vue alike.
 */

const clientKey: InjectionKey<LiveClient> = Symbol('livehub.client');

/** A Vue plugin that shares one connection with every composable in the app. */
export function createLivehub(url: string, options: LiveClientOptions = {}) {
  const client = new LiveClient(url, options);
  return {
    client,
    install(app: App) {
      app.provide(clientKey, client);
    },
  };
}

/** The explicit client, else the provided one (only asked where injection works: no warning). */
export function findClient(explicit: LiveClient | undefined): LiveClient | null {
  return explicit ?? (hasInjectionContext() ? inject(clientKey, null) : null);
}

export function requireClient(explicit: LiveClient | undefined, name: string): LiveClient {
  const client = findClient(explicit);
  if (!client) throw new TypeError(`livehub: ${name} needs a client: app.use(createLivehub(url)), or pass { client }`);
  return client;
}

/** Runs `stop` when the current effect scope (a component, an `effectScope()`) ends, if there is one. */
export function onEnd(stop: () => void): void {
  if (getCurrentScope()) onScopeDispose(stop);
}
