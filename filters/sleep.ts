/**
 * Waiting that stops early when a signal aborts: for retries, delays and
 * periodic loops that must end with what owns them.
 *
 * @module
 */

/** Resolves true after `ms`, or false as soon as `signal` aborts (at once if it has). */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
