import type { ReadableStore } from './store.js';

/** What a `BoundStore` binds to once the client exists: a store, and what keeps it fed. */
export interface Binding<T> {
  store: ReadableStore<T>;
  /** Holds what feeds the store (a channel subscription) until the returned release. */
  hold(): () => void;
}

/**
 * A store for a binding that renders before its client exists (React's first render, a server
 * render): `initial` until the first `subscribe`, which binds (so makes the client, after mount) and
 * holds the inner store's feed while subscribed.
 */
export class BoundStore<T> implements ReadableStore<T> {
  private inner: ReadableStore<T> | null = null;

  constructor(private readonly bind: () => Binding<T> | null, private readonly initial: T) {}

  readonly subscribe = (listener: () => void): (() => void) => {
    const binding = this.bind();
    if (!binding) return () => {};
    this.inner = binding.store;
    const release = binding.hold();
    const unsubscribe = binding.store.subscribe(listener);
    return () => {
      unsubscribe();
      release();
    };
  };

  readonly getSnapshot = (): T => (this.inner ? this.inner.getSnapshot() : this.initial);

  readonly getServerSnapshot = (): T => this.initial;
}
