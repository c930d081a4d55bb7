/**
 * A WebSocket client for tests: what a socket receives, taken message by
 * message, and its close.
 *
 * @module
 */

/** Waits for `ws` to open, then hands over its messages one `next()` at a time. */
export async function received(
  ws: WebSocket,
): Promise<{ ws: WebSocket; next: () => Promise<unknown> }> {
  ws.binaryType = "arraybuffer";
  const queue: unknown[] = [];
  const waiting: ((value: unknown) => void)[] = [];
  ws.onmessage = (e) => {
    const wake = waiting.shift();
    if (wake) wake(e.data);
    else queue.push(e.data);
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = (e) => reject(new Error((e as ErrorEvent).message));
  });
  const next = () =>
    queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r));
  return { ws, next };
}

/** Resolves once `ws` is closed. */
export function closed(ws: WebSocket): Promise<void> {
  return ws.readyState === WebSocket.CLOSED
    ? Promise.resolve()
    : new Promise((resolve) => ws.addEventListener("close", () => resolve()));
}
