import type { EngineHandlers } from './engine.js';
import { EngineUnavailableError } from './redis-health.js';

/**
 * What the PostgreSQL engine says when the database fails it. Calls reject with an
 * `EngineUnavailableError` (the one livehub/redis exports): `code: 'unavailable'` when nothing was
 * done (no connection within the deadline, or the database answered with an error, which rolls the
 * statement back), `'outcome_unknown'` for a publish that was sent and got no answer within the
 * deadline or lost its connection meanwhile (it may have been committed; a retry with the same
 * idempotency key settles it). Messages name the host, the cause and the fix; losses and recoveries
 * are logged through the hub's logger, which rate-limits each cause.
 */

type Log = NonNullable<EngineHandlers['log']>;

/** An error the database sent back (it has an SQLSTATE): the statement did not commit. */
export function isServerError(err: unknown): err is Error & { code: string; severity?: string } {
  const { code, severity } = (err ?? {}) as { code?: unknown; severity?: unknown };
  return err instanceof Error && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof severity === 'string';
}

/** Tracks whether the database is reachable, for log lines, and classifies failures. */
export class PostgresHealth {
  log: Log | undefined;
  closed = false;
  private down = false;

  constructor(readonly host: string, private readonly commandTimeout: number) {}

  /** A call succeeded: logs the recovery once after a failure. */
  ok(): void {
    if (!this.down) return;
    this.down = false;
    this.log?.('info', `postgres:${this.host}:ready`, { code: 'engine_ready', host: this.host },
      `livehub: PostgreSQL at ${this.host} is reachable again`);
  }

  /**
   * The error a call rejects with; `what` names it ("publish to channel 'news'"). `sent`: the
   * statement was handed to a live connection, so a failure without an answer may have committed
   * (for a write: `outcome_unknown`).
   */
  failure(what: string, err: unknown, sent: boolean, write = false): EngineUnavailableError {
    if (err instanceof EngineUnavailableError) return err;
    if (this.closed) {
      return new EngineUnavailableError(`livehub: ${what} failed: the engine is closed (engine.close() was called)`, this.host, err);
    }
    const message = err instanceof Error ? err.message : String(err);
    if (isServerError(err) && /^(08|57P0)/.test(err.code)) {
      // The server closed the connection (shutting down, restarting, or the connection was
      // terminated): the statement did not run.
      this.report('warn', err, `PostgreSQL at ${this.host} closed the connection (${err.code}: ${message}): it is shutting down or restarting, or the connection was terminated; engine calls fail with 'unavailable' until it is back`);
      return new EngineUnavailableError(`livehub: ${what} failed: PostgreSQL at ${this.host} closed the connection (${err.code}: ${message}); it is shutting down or restarting; retry later`, this.host, err);
    }
    if (isServerError(err)) {
      // The database answered: the statement was rolled back.
      const missing = err.code === '42P01' || err.code === '42883' || err.code === '3F000';
      const fix = missing
        ? "the engine's tables are missing: call engine.migrate() (or keep the engine's migrate option on), or apply the migrations of livehub/postgres"
        : err.code === '57014' ? `the statement took longer than the engine's commandTimeout (${this.commandTimeout} ms); retry later`
          : "check PostgreSQL's logs and the database user's permissions; retry later";
      this.report('error', err, `PostgreSQL at ${this.host} refused ${what} (${err.code}: ${message}); ${fix}`);
      return new EngineUnavailableError(`livehub: ${what} failed: PostgreSQL at ${this.host} refused it (${err.code}: ${message}); ${fix}`, this.host, err);
    }
    const timeout = /timeout/i.test(message);
    const reason = timeout ? `no answer within ${this.commandTimeout} ms (the engine's commandTimeout)` : message;
    this.report('warn', err, timeout
      ? `PostgreSQL at ${this.host} did not answer within ${this.commandTimeout} ms (the engine's commandTimeout): it is frozen, overloaded or cut off; engine calls fail with 'unavailable' until it answers`
      : `PostgreSQL at ${this.host} is unreachable (${message}); check DATABASE_URL / the engine's connectionString; engine calls fail with 'unavailable' meanwhile`);
    if (sent && write) {
      return new EngineUnavailableError(
        `livehub: ${what}: no answer from PostgreSQL at ${this.host} (${reason}), so it may or may not have been applied; retry with the same idempotency id (never a duplicate)`,
        this.host, err, 'outcome_unknown');
    }
    return new EngineUnavailableError(
      `livehub: ${what} failed: PostgreSQL at ${this.host} ${timeout ? `gave ${reason}` : `is unreachable (${message})`}; ${timeout ? 'it is frozen, overloaded or cut off; retry later' : "check DATABASE_URL / the engine's connectionString; retry later"}`,
      this.host, err);
  }

  /** Logs a connection-level problem (the listening connection lost, an idle connection's error). */
  lost(role: string, err: unknown): void {
    if (this.closed) return;
    const message = err instanceof Error ? err.message : String(err);
    this.down = true;
    this.log?.('warn', `postgres:${this.host}:lost:${role}`, { code: 'engine_disconnected', err, host: this.host, connection: role },
      `livehub: lost the ${role} connection to PostgreSQL at ${this.host} (${message}); reconnecting; missed publications are read from the messages table`);
  }

  private report(level: 'warn' | 'error', err: unknown, message: string): void {
    if (this.closed) return;
    this.down = true;
    const timeout = err instanceof Error && /timeout/i.test(err.message);
    const code = level === 'error' ? 'engine_refused' : timeout ? 'engine_timeout' : 'engine_unreachable';
    this.log?.(level, `postgres:${this.host}:${code}`, { code, err, host: this.host }, `livehub: ${message}`);
  }
}
