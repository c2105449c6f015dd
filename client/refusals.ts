import { describeError } from '../pkg/protocol/index.js';
import { isDevelopment } from './environment.js';
import type { LiveError } from './errors.js';

/** What the server refused: a subscribe, a publish, a request to a handler, or a presence command. */
export type RefusedAction = 'subscribe' | 'publish' | 'request' | 'presence';

/**
 * The console side of refusals. Every refusal is in the client's state already (`lastError`, the
 * `error` event, the hooks' `error`); in a development build (see `isDevelopment`) the client also
 * warns in the console, once per channel (or request type) and cause, so a page that shows none of
 * that still cannot hide it from its developer. Bindings never log: only the client does, here.
 */
export class RefusalWarnings {
  private readonly warned = new Set<string>();

  constructor(private readonly enabled = isDevelopment()) {}

  /** Warns about `error`, unless this subject and code have warned already (or this is a production build). */
  warn(action: RefusedAction, error: LiveError, subject: string | undefined): void {
    if (!this.enabled) return;
    const key = `${action}\u0000${subject ?? ''}\u0000${error.code}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    const what = action === 'request' ? `request "${subject}"` : action === 'presence' ? `presence request on "${subject}"` : `${action} to "${subject}"`;
    const fix = describeError(error.code)?.fix;
    console.warn(`livehub: the server refused a ${what} (${error.code}): ${error.message}.${fix ? ` To change: ${fix}.` : ''}`
      + ' It shows in the hooks\' error and the client\'s error event; this warning comes once per channel and cause, in development builds only.');
  }
}
