/**
 * Runs `task` and hands its result to `then`: synchronously when it is not a promise (the memory
 * engine answers at once), or when it settles (Redis). Errors, thrown or rejected, go to `fail`.
 */
export function after<T>(task: () => T | Promise<T>, then: (value: T) => void, fail: (error: Error) => void): void {
  let value: T | Promise<T>;
  try {
    value = task();
  } catch (error) {
    fail(error as Error);
    return;
  }
  if (value instanceof Promise) value.then(then, fail);
  else then(value);
}
