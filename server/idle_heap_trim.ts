/**
 * Gives heap memory back once traffic stops. Under load V8 grows an
 * isolate's young generation to its maximum (tens of MB) and keeps it
 * committed after the load is gone; one full, memory-reducing collection
 * once the isolate has been quiet for a while shrinks it again, so a node
 * holding many idle keep-alive connections costs what they hold, not what
 * its last burst of traffic needed.
 *
 * Needs V8's `gc` function (`--v8-flags=--expose-gc`, set by the `serve`
 * and `compile` tasks); without it this does nothing.
 *
 * @module
 */

/** V8's `gc` extension function, with the options this module uses. */
export type GcFunction = (
  options: { type: "major"; execution: "sync"; flavor: "last-resort" },
) => void;

/** V8's `gc`, when the process runs with `--expose-gc`. */
const exposedGc = (globalThis as { gc?: GcFunction }).gc ?? null;

/** How often traffic is looked at. */
const TICK_MS = 1000;
/** Quiet ticks in a row before the heap is trimmed. */
const QUIET_TICKS = 2;

/** Watches a request counter and trims the heap once it stops moving. */
export class IdleHeapTrim {
  readonly #requests: () => number;
  readonly #gc: GcFunction | null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #seen = 0;
  #quietTicks = 0;
  /** Whether requests came since the last trim (nothing to give back otherwise). */
  #dirty = false;

  /**
   * `requests` returns a count that grows with every request served.
   * `options.gc` is V8's (the default), or null where it is not exposed;
   * `options.trimAfterStart` trims once the first quiet ticks pass even
   * without requests, for what starting up left behind.
   */
  constructor(
    requests: () => number,
    options: { gc?: GcFunction | null; trimAfterStart?: boolean } = {},
  ) {
    this.#requests = requests;
    this.#gc = options.gc === undefined ? exposedGc : options.gc;
    this.#dirty = options.trimAfterStart ?? false;
  }

  /** Starts watching (idempotent); does nothing when `gc` is not exposed. */
  start(): void {
    if (this.#gc === null || this.#timer !== undefined) return;
    this.#seen = this.#requests();
    const timer = setInterval(() => this.tick(), TICK_MS);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Stops watching. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One look at the counter; returns whether the heap was trimmed. Exposed for tests. */
  tick(): boolean {
    const requests = this.#requests();
    if (requests !== this.#seen) {
      this.#seen = requests;
      this.#quietTicks = 0;
      this.#dirty = true;
      return false;
    }
    if (!this.#dirty || ++this.#quietTicks < QUIET_TICKS || this.#gc === null) return false;
    this.#dirty = false;
    this.#gc({ type: "major", execution: "sync", flavor: "last-resort" });
    return true;
  }
}
