import type { Reporter } from './report.js';

const warned = new Set<string>();

/** Warns once per process that a deprecated name was used, naming the one to use instead. */
export function deprecated(reporter: Reporter, old: string, now: string): void {
  if (warned.has(old)) return;
  warned.add(old);
  reporter.report('warn', 'deprecated', `livehub: ${old} is deprecated; use ${now}`, undefined, `deprecated:${old}`);
}

/** Forgets which warnings were given (for tests). */
export function resetDeprecationWarnings(): void {
  warned.clear();
}
