/**
 * Deprecated names still work for a while: the first use of each in a process warns once, naming
 * what replaces it, so an app sees every rename it has to make without its console filling up.
 */
const warned = new Set<string>();

/** Warns once per process that `oldName` is deprecated and `newName` replaces it. */
export function deprecated(oldName: string, newName: string): void {
  if (warned.has(oldName)) return;
  warned.add(oldName);
  console.warn(`livehub: ${oldName} is deprecated, use ${newName} instead (see docs/migration.md)`);
}

/** Forgets which names have warned, so each warns again (for tests). */
export function resetDeprecationWarnings(): void {
  warned.clear();
}
