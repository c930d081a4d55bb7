/**
 * Client-abort news for requests of the runtime's HTTP server (HTTP/2, h2c,
 * `--http1-server deno`) without making each request's `AbortSignal`.
 *
 * The runtime makes a request's signal on first use, and that costs: through
 * `Deno.serve`, a handler that only took the signal and added and removed a
 * listener used 1.3–6 µs more CPU per request than one that answered at once;
 * HTTP/2 through the Proxy measured 38–42 against 40–50 µs per request with
 * the signal left alone. Most requests are answered long before a client
 * leaving them could matter, so a watch takes the signal only once a
 * listener has waited {@linkcode HOOK_AFTER_MS}: sooner answers never make
 * one, and a client that leaves a longer request is heard that much later
 * at most. The waiting watches share one {@linkcode DeadlineQueue}.
 *
 * @module
 */

import { AbortNotice } from "../../filters/abort_watch.ts";
import { DeadlineQueue, type QueuedDeadline } from "../../filters/deadline_queue.ts";

/** How long a listener waits before the request's signal is taken. */
export const HOOK_AFTER_MS = 50;

const waiting = new DeadlineQueue();

/**
 * Aborted when the client of `request` goes away, as heard through the
 * request's signal once a listener has waited {@linkcode HOOK_AFTER_MS}.
 */
export class DeferredAbortWatch extends AbortNotice implements QueuedDeadline {
  deadline = 0;
  older: QueuedDeadline | null = null;
  newer: QueuedDeadline | null = null;
  readonly #request: Request;
  #queued = false;
  #hooked = false;

  constructor(request: Request) {
    super();
    this.#request = request;
  }

  override addEventListener(type: "abort", listener: () => void): void {
    super.addEventListener(type, listener);
    if (this.#queued || this.#hooked || this.aborted) return;
    const now = performance.now();
    this.deadline = now + HOOK_AFTER_MS;
    this.#queued = true;
    waiting.push(this, now);
  }

  override removeEventListener(type: "abort", listener: () => void): void {
    super.removeEventListener(type, listener);
    if (this.#queued && !this.listening) {
      this.#queued = false;
      waiting.remove(this);
    }
  }

  /** A listener has waited long enough: from now on the request's signal tells. */
  due(): void {
    this.#queued = false;
    this.#hooked = true;
    const signal = this.#request.signal;
    if (signal.aborted) this.abort(signal.reason);
    else signal.addEventListener("abort", () => this.abort(signal.reason), { once: true });
  }
}

/** Whether no watch waits and no timer is pending (for tests). */
export function deferredWatchesIdle(): boolean {
  return waiting.idle;
}
