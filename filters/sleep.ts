/**
 * Bounded waiting: a delay that stops early when a signal aborts (retries,
 * periodic loops that must end with what owns them), and a wait for a
 * promise that gives up at a deadline (shutdown paths and polls, which must
 * go on even when what they wait for never settles).
 *
 * @module
 */

import type { AbortWatch } from "./abort_watch.ts";

/** The longest delay setTimeout takes (about 24.8 days): a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Resolves true after `ms`, or false as soon as `signal` aborts (at once if
 * it has); an {@linkcode AbortWatch} does, so a caller on the request path
 * needs no AbortSignal of its own.
 */
export function sleep(ms: number, signal: AbortWatch): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout>;
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    // A wait past setTimeout's range is served in pieces within it.
    const wait = (left: number) => {
      timer = setTimeout(() => {
        if (left > MAX_TIMER_MS) return wait(left - MAX_TIMER_MS);
        signal.removeEventListener("abort", onAbort);
        resolve(true);
      }, Math.min(left, MAX_TIMER_MS));
    };
    wait(ms);
    signal.addEventListener("abort", onAbort);
  });
}

/**
 * Waits for `promise` (its outcome is ignored) or until the `deadline`
 * timestamp (`Date.now()` scale), whichever comes first. Leaves no timer behind.
 */
export async function waitUntil(promise: Promise<unknown>, deadline: number): Promise<void> {
  const delay = deadline - Date.now();
  if (delay <= 0) return;
  // Through sleep, so a deadline past setTimeout's range (Infinity: none yet) is kept too.
  const settled = new AbortController();
  try {
    await Promise.race([promise.catch(() => {}), sleep(delay, settled.signal)]);
  } finally {
    settled.abort();
  }
}
