/**
 * Logging: livehub never fails silently. Every refused origin, unreachable engine, failed publish and
 * eviction is logged with its cause and what to change, through a logger the app chooses.
 *
 * A logger is anything with `debug/info/warn/error` methods taking `(context, message)`: pino's
 * signature. `console` works too (it prints the context object, then the message). livehub calls
 * them as `logger.warn({ code, ...context }, 'livehub: what happened; what to change')`, with `err`
 * in the context when there is an Error. The default logger writes warnings and errors to the console.
 *
 * The same cause is logged once per `LOG_REPEAT_WINDOW`; repeats in between are counted and the count
 * is given with the next line for that cause, so a flood of refused connections makes a few lines.
 */

/** Pino- and console-compatible: `logger.warn(context, message)`. */
export interface Logger {
  debug(context: object, message: string): void;
  info(context: object, message: string): void;
  warn(context: object, message: string): void;
  error(context: object, message: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What livehub logs with: the app's logger plus the once-per-cause rate limit. */
export interface HubLogger {
  /**
   * Logs `message` for `cause` (a stable key such as `origin:https://evil.example`), at most once per
   * window; `context.code` names the kind of event.
   */
  log(level: LogLevel, cause: string, context: { code: string; err?: unknown; [key: string]: unknown }, message: string): void;
}

/** Milliseconds between two lines for the same cause. */
export const LOG_REPEAT_WINDOW = 60_000;
/** Causes remembered at most (the oldest are forgotten first). */
const MAX_CAUSES = 1000;

function describe(context: { err?: unknown }): string {
  const { err } = context;
  if (err instanceof Error) return `\n${err.stack ?? err.message}`;
  return '';
}

/** The default: warnings and errors to the console, debug and info dropped. */
export const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn(context, message) { console.warn(message + describe(context)); },
  error(context, message) { console.error(message + describe(context)); },
};

/** A logger that drops everything (`logger: false`). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export function isLogger(value: unknown): value is Logger {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Record<string, unknown>;
  return ['debug', 'info', 'warn', 'error'].every((level) => typeof candidate[level] === 'function');
}

/** Wraps a logger with the once-per-cause window. A logger that throws is ignored, never rethrown. */
export function hubLogger(logger: Logger, window = LOG_REPEAT_WINDOW, now: () => number = Date.now): HubLogger {
  const seen = new Map<string, { at: number; repeats: number }>();
  return {
    log(level, cause, context, message) {
      const time = now();
      const last = seen.get(cause);
      if (last && time - last.at < window) {
        last.repeats++;
        return;
      }
      const repeats = last?.repeats ?? 0;
      seen.delete(cause);
      seen.set(cause, { at: time, repeats: 0 });
      if (seen.size > MAX_CAUSES) seen.delete(seen.keys().next().value as string);
      const line = repeats > 0 ? `${message} (${repeats} more since the last report)` : message;
      try {
        logger[level](repeats > 0 ? { ...context, repeats } : context, line);
      } catch {
        // A broken logger must not break the hub.
      }
    },
  };
}
