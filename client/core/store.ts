/**
 * The shape every livehub store has, for `useSyncExternalStore` (React) and `shallowRef` (Vue):
 * `subscribe(listener)` returns an unsubscribe; `getSnapshot()` returns the same value until it
 * changes (a new object or array on every change, never a mutated one).
 */
export interface ReadableStore<T> {
  subscribe(listener: () => void): () => void;
  getSnapshot(): T;
}

/** A value with listeners: `set` replaces it and notifies when it changed (by `Object.is`). */
export class ValueStore<T> implements ReadableStore<T> {
  private readonly listeners = new Set<() => void>();

  constructor(private value: T) {}

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  };

  readonly getSnapshot = (): T => this.value;

  set(value: T): void {
    if (Object.is(value, this.value)) return;
    this.value = value;
    for (const listener of [...this.listeners]) listener();
  }

  get listening(): number {
    return this.listeners.size;
  }
}
