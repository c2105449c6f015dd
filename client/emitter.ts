/**
 * Listening by name, the one idiom of every livehub listener: `on(name, listener)` returns the
 * function that stops it, `off(name, listener)` stops it by reference.
 */
export interface Listeners<Events extends { [K in keyof Events]: (...args: never[]) => void }> {
  /** Calls `listener` for each `name` event (once, however often it is added); returns the function that stops it. */
  on<K extends keyof Events>(name: K, listener: Events[K]): () => void;
  /** Stops `listener` (nothing if it is not on). */
  off<K extends keyof Events>(name: K, listener: Events[K]): void;
}

/** A small typed event emitter: listeners per event name, called in the order they were added. */
export class Emitter<Events extends { [K in keyof Events]: (...args: never[]) => void }> implements Listeners<Events> {
  private readonly listeners = new Map<keyof Events, Set<(...args: never[]) => void>>();

  /** The listening half alone (`on`, `off`), for the public side: only the owner emits. */
  readonly view: Listeners<Events> = Object.freeze({
    on: <K extends keyof Events>(name: K, listener: Events[K]) => this.on(name, listener),
    off: <K extends keyof Events>(name: K, listener: Events[K]) => this.off(name, listener),
  });

  on<K extends keyof Events>(name: K, listener: Events[K]): () => void {
    if (typeof listener !== 'function') throw new TypeError(`livehub: events.on(${JSON.stringify(String(name))}) needs a listener function`);
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => this.off(name, listener);
  }

  off<K extends keyof Events>(name: K, listener: Events[K]): void {
    this.listeners.get(name)?.delete(listener);
  }

  emit<K extends keyof Events>(name: K, ...args: Parameters<Events[K]>): void {
    for (const listener of this.listeners.get(name) ?? []) (listener as unknown as (...a: typeof args) => void)(...args);
  }

  clear(): void {
    this.listeners.clear();
  }
}
