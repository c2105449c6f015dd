import type { Engine, Publication } from './engine.js';

/** What the parts of the engine conformance suite (conformance.ts) share. */

/** The test functions of the runner that runs the suite. */
export interface TestFunctions {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void>): unknown;
  afterEach(body: () => Promise<void>): unknown;
}

/** A started engine with what it delivered, reset and received as node messages. */
export interface StartedEngine {
  e: Engine;
  node: string;
  delivered: Publication[];
  resets: string[];
  messages: string[];
  /** What it delivered of one channel. */
  of(channel: string): Publication[];
}

/** What the suites share: a way to start engines in the current test's store, and a fresh channel name. */
export interface SuiteContext {
  start(): Promise<StartedEngine>;
  channel(): string;
  shared: boolean;
}

/** History kept in most tests: five publications for a minute. */
export const KEEP = { size: 5, ttl: 60_000 };

const FIELDS = ['channel', 'offset', 'epoch', 'type', 'data', 'tags', 'from', 'trace'] as const;

/**
 * A publication's fields, to compare: those the contract names (an engine may keep more of its own
 * on the object), without those left undefined and without empty tags.
 */
export function fieldsOf(p: Publication): Partial<Publication> {
  const out: Record<string, unknown> = {};
  for (const key of FIELDS) {
    const value = p[key];
    if (value !== undefined) out[key] = typeof value === 'object' ? { ...value } : value;
  }
  if (p.tags !== undefined && Object.keys(p.tags).length === 0) delete out.tags;
  return out as Partial<Publication>;
}

/** Retries `check` (an assertion) until it passes, or throws its last failure after `timeout` ms. */
export async function eventually(check: () => unknown, timeout = 5000): Promise<void> {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > end) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
