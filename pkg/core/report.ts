import { hubLogger, type HubLogger, type Logger, type LogLevel } from './logger.js';

/**
 * How the hub reports what goes wrong: one line through the app's logger (rate-limited per cause),
 * and, for errors, the `onError` hook. Nothing is swallowed without a trace.
 */
export interface Reporter {
  /**
   * Logs `message` at `level`. `code` names the kind (`origin_refused`, `publish_failed`, …); `cause`
   * is the rate-limit key (defaults to `code`). `err` is passed on to `onError` when it is an Error.
   */
  report(level: LogLevel, code: string, message: string, err?: unknown, cause?: string): void;
  /** An unexpected error from app code (a hook that threw): logged with its stack, and to onError. */
  error(err: unknown, code?: string, message?: string): void;
}

export function createReporter(options: { readonly logger: Logger; readonly onError: ((error: Error) => void) | null }): Reporter {
  const log: HubLogger = hubLogger(options.logger);
  const { onError } = options;
  const reporter: Reporter = {
    report(level, code, message, err, cause = code) {
      log.log(level, cause, err === undefined ? { code } : { code, err }, message);
      if (onError && err instanceof Error && (level === 'error' || level === 'warn')) {
        try {
          onError(err);
        } catch {
          // onError must not break the hub.
        }
      }
    },
    error(err, code = 'internal', message) {
      const error = err instanceof Error ? err : new Error(String(err));
      reporter.report('error', code, message ?? `livehub: ${error.message}`, error, `${code}:${error.message}`);
    },
  };
  return reporter;
}

/** An Error with a `code`, as livehub's failures carry. */
export class LivehubError extends Error {
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LivehubError';
  }
}
