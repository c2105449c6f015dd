import type { Redis } from 'ioredis';
import type { EngineHandlers } from './engine.js';

/**
 * What the Redis engine says when Redis fails it: rejections carry `code: 'unavailable'` (nothing
 * was done) or, for a publish sent to Redis that got no answer, `code: 'outcome_unknown'` (it may have
 * been applied), and a message naming the host, the cause and the fix; connection losses, timeouts and recoveries are
 * logged through the hub's logger (`EngineHandlers.log`), which rate-limits each cause.
 */

/**
 * An engine call that Redis could not serve: unreachable, too slow, or refusing the command. `code`
 * is `'outcome_unknown'` when a write was sent and no answer came (Redis may have applied it), else
 * `'unavailable'` (Redis did not apply it).
 */
export class EngineUnavailableError extends Error {
  constructor(message: string, readonly host: string, cause?: unknown, readonly code: 'unavailable' | 'outcome_unknown' = 'unavailable') {
    super(message, { cause });
    this.name = 'EngineUnavailableError';
  }
}

type Log = NonNullable<EngineHandlers['log']>;

/** Tracks the connections' state for messages, and turns ioredis errors into `unavailable` ones. */
export class RedisHealth {
  /** The last connection error, while a connection is down (the cause an `unavailable` names). */
  private lastError: Error | null = null;
  private down = false;
  log: Log | undefined;
  /** Set by the engine's close(): its own disconnects are not reported. */
  closed = false;

  constructor(readonly host: string, private readonly commandTimeout: number) {}

  /** Logs the connection's losses and recoveries. */
  watch(connection: Redis, role: 'commands' | 'pub/sub'): void {
    connection.on('error', (err: Error) => {
      this.lastError = err;
      this.down = true;
      if (/^Socket timeout/.test(err.message)) {
        this.log?.('warn', `redis:${this.host}:timeout`, { code: 'engine_timeout', err, host: this.host, connection: role },
          `livehub: Redis at ${this.host} stopped answering on the ${role} connection (nothing within ${this.commandTimeout} ms, the engine's commandTimeout): reconnecting it; engine calls fail with 'unavailable' meanwhile`);
        return;
      }
      this.log?.('warn', `redis:${this.host}:unreachable`, { code: 'engine_unreachable', err, host: this.host, connection: role },
        `livehub: Redis at ${this.host} is unreachable (${err.message}); check REDIS_URL / the engine's url option; publishes fail with 'unavailable' meanwhile`);
    });
    let ready = false;
    connection.on('close', () => {
      if (!ready || this.closed) return;
      ready = false;
      this.down = true;
      this.log?.('warn', `redis:${this.host}:lost`, { code: 'engine_disconnected', host: this.host, connection: role },
        `livehub: lost the ${role} connection to Redis at ${this.host}${this.lastError ? ` (${this.lastError.message})` : ''}; reconnecting; engine calls fail with 'unavailable' meanwhile and missed publications are recovered from history`);
    });
    connection.on('ready', () => {
      ready = true;
      if (!this.down) return;
      this.down = false;
      this.lastError = null;
      this.log?.('info', `redis:${this.host}:ready`, { code: 'engine_ready', host: this.host, connection: role },
        `livehub: Redis at ${this.host} is reachable again (${role} connection)`);
    });
  }

  /**
   * The error an engine call rejects with; `what` names the call ("publish to channel 'news'"). For a
   * `write`, a failure after the command may have reached Redis (a timeout, a connection lost while
   * waiting) is `outcome_unknown`; one where it cannot have (not sent, refused) stays `unavailable`.
   */
  unavailable(what: string, err: unknown, write = false): EngineUnavailableError {
    if (err instanceof EngineUnavailableError) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (err === ENGINE_CLOSED) return new EngineUnavailableError(`livehub: ${what} failed: the engine is closed (engine.close() was called)`, this.host, err);
    let reason: string;
    let fix: string;
    // Sent and unanswered: a timeout, or a connection lost (or retried past its limit) mid-command.
    const inFlight = message === 'Command timed out' || /max retries per request|Connection is closed|Socket timeout/i.test(message);
    if (write && inFlight) {
      return new EngineUnavailableError(
        `livehub: ${what}: no answer from Redis at ${this.host} (${message === 'Command timed out' ? `nothing within ${this.commandTimeout} ms, the engine's commandTimeout` : message}), so it may or may not have been applied; retry with the same idempotency id (never a duplicate)`,
        this.host, err, 'outcome_unknown');
    }
    if (message === 'Command timed out') {
      reason = `did not answer within ${this.commandTimeout} ms (the engine's commandTimeout)`;
      fix = 'Redis is frozen, overloaded or cut off; retry later';
      this.log?.('warn', `redis:${this.host}:timeout`, { code: 'engine_timeout', err, host: this.host },
        `livehub: Redis at ${this.host} ${reason}; engine calls fail with 'unavailable' until it answers (publishes it got and did not answer: 'outcome_unknown', settled by a retry with the same id)`);
    } else if (/Stream isn't writeable|Connection is closed|max retries per request|Socket timeout/i.test(message)) {
      reason = `is unreachable (${this.lastError?.message ?? message})`;
      fix = "check REDIS_URL / the engine's url option; retry later";
    } else if (err instanceof Error && err.name === 'ReplyError') {
      reason = `refused the command (${message})`;
      fix = "check the Redis user's permissions (ACL) and Redis's logs; retry later";
    } else {
      reason = `failed (${message})`;
      fix = 'retry later';
    }
    return new EngineUnavailableError(`livehub: ${what} failed: Redis at ${this.host} ${reason}; ${fix}`, this.host, err);
  }
}

/** What an engine call meets once `close()` was called. */
export const ENGINE_CLOSED = new Error('the engine is closed');

/** `host:port` (or the socket path) a connection goes to, for messages. */
export function describeHost(connection: Redis): string {
  const { host, port, path } = connection.options;
  return path ? String(path) : `${host ?? '127.0.0.1'}:${port ?? 6379}`;
}
