import { coreOf, type Hub } from '../hub.js';

/**
 * Listening to a hub's events from the observe package: every listener of one observer is removed
 * by one call, and an event this hub does not emit (an older hub without `engine.down`, say) is
 * skipped instead of throwing, so an observer works across hub versions.
 */
export type AnyListener = (event: any) => void;

export function listen(hub: Hub, listeners: Record<string, AnyListener>): () => void {
  const offs: Array<() => void> = [];
  const { events } = coreOf(hub);
  const known = events.listening as Record<string, boolean>;
  for (const [name, listener] of Object.entries(listeners)) {
    if (!(name in known)) continue;
    offs.push(events.on(name as never, listener as never));
  }
  return () => { for (const off of offs.splice(0)) off(); };
}

/** What the observers read of a hub that may or may not have the drain and engine-state API. */
export function hubState(hub: Hub): { engineUp: boolean; draining: boolean } {
  const state = hub as unknown as { engineUp?: boolean; draining?: boolean; isClosing?: boolean };
  return { engineUp: state.engineUp !== false, draining: state.draining === true || state.isClosing === true };
}

/** A label value from a bounded set: values past `limit` distinct ones become `other`. */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly limit: number, initial: readonly string[] = []) {
    for (const value of initial) this.seen.add(value);
  }

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.limit) return 'other';
    this.seen.add(value);
    return value;
  }
}
