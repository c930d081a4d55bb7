/**
 * Bounded waiting for shutdown paths, which must end even when something
 * they wait for never does.
 *
 * @module
 */

/**
 * Waits for `promise` (its outcome is ignored) or until the `deadline`
 * timestamp (`Date.now()` scale), whichever comes first. Leaves no timer behind.
 */
export async function waitUntil(promise: Promise<unknown>, deadline: number): Promise<void> {
  const delay = deadline - Date.now();
  if (delay <= 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      promise.catch(() => {}),
      new Promise((resolve) => timer = setTimeout(resolve, delay)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
