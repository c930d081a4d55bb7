/**
 * Gives heap memory back once traffic stops. Under load V8 grows an
 * isolate's young generation to its maximum (tens of MB) and keeps it
 * committed after the load is gone; one full, memory-reducing collection
 * once the isolate has been quiet for half a minute shrinks it again, so a
 * node holding many idle keep-alive connections costs what they hold, not
 * what its last burst of traffic needed.
 *
 * Needs V8's `gc` function (`--v8-flags=--expose-gc`, set by the `serve`
 * and `compile` tasks); without it this does nothing. The tasks also turn
 * V8's own memory reducer off (`--no-memory-reducer`): after 8 s without
 * allocation it shrinks the young generation to 1 MB, and the next burst
 * then spends seconds in back-to-back collections. This trim is the one
 * policy instead.
 *
 * @module
 */

import { releaseShapeAnchors } from "../filters/shape_anchor.ts";

/** V8's `gc` extension function, with the options this module uses. */
export type GcFunction = (
  options: { type: "major"; execution: "sync"; flavor: "regular" | "last-resort" },
) => void;

/** V8's `gc`, when the process runs with `--expose-gc`. */
const exposedGc = (globalThis as { gc?: GcFunction }).gc ?? null;

/** How often traffic is looked at. */
const TICK_MS = 1000;
/**
 * Quiet ticks in a row before the heap is trimmed. Long, because the trim
 * has a price: the next burst starts with a small young generation and
 * spends its first seconds growing it back (measured: 20-35 % more CPU
 * per request in two-second bursts two seconds apart). Traffic that
 * pauses for less than this keeps its heap.
 */
const QUIET_TICKS = 30;

/**
 * Watches request counters and trims the heap once they stop moving. One
 * per isolate ({@linkcode isolateHeapTrim}): a node without workers serves
 * traffic and its admin API in one isolate, and either must keep it busy.
 */
export class IdleHeapTrim {
  readonly #sources = new Set<() => number>();
  readonly #gc: GcFunction | null;
  /** Quiet ticks in a row before a trim; 0: never trim. */
  #quietTicksNeeded: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #seen = 0;
  #quietTicks = 0;
  /** Whether anything happened since the last trim (nothing to give back otherwise). */
  #dirty = false;
  /** Runs after the first trim only (see {@linkcode afterFirstTrim}). */
  #firstTrimDone: (() => void) | null = null;

  /**
   * `options.gc` is V8's (the default), or null where it is not exposed;
   * `options.quietTicks` is how many one-second ticks without requests
   * make the isolate quiet.
   */
  constructor(options: { gc?: GcFunction | null; quietTicks?: number } = {}) {
    this.#gc = options.gc === undefined ? exposedGc : options.gc;
    this.#quietTicksNeeded = options.quietTicks ?? QUIET_TICKS;
  }

  /**
   * Counts `requests` (a count that grows with every request served) as
   * traffic; returns a function that stops counting it. The first source
   * starts the ticks, the last one removed stops them; without `gc` no
   * tick ever runs.
   */
  watch(requests: () => number): () => void {
    this.#sources.add(requests);
    this.#seen = this.#total();
    if (this.#gc !== null && this.#timer === undefined) {
      const timer = setInterval(() => this.tick(), TICK_MS);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
    return () => {
      if (!this.#sources.delete(requests) || this.#sources.size > 0) return;
      clearInterval(this.#timer);
      this.#timer = undefined;
    };
  }

  /**
   * Sets how long the isolate must be quiet before its heap is trimmed
   * (`--heap-trim-after`), in milliseconds counted in whole ticks; 0 turns
   * trimming off. A trim has a price: the next burst regrows the young
   * generation, and optimized code that checks for shapes no anchor keeps
   * (filters/shape_anchor.ts) is discarded.
   */
  configure(quietMs: number): void {
    this.#quietTicksNeeded = quietMs > 0 ? Math.max(1, Math.ceil(quietMs / TICK_MS)) : 0;
  }

  /** Trims after the next quiet period even without requests (what starting up left behind). */
  markDirty(): void {
    this.#dirty = true;
  }

  /**
   * Runs `release` once, right after the first trim: for what only starting
   * up needed outside the heap. Later trims do not repeat it, so a node
   * that rests between bursts does not pay for it every time.
   */
  afterFirstTrim(release: () => void): void {
    this.#firstTrimDone = release;
  }

  /** One look at the counters; returns whether the heap was trimmed. Exposed for tests. */
  tick(): boolean {
    const requests = this.#total();
    if (requests !== this.#seen) {
      this.#seen = requests;
      this.#quietTicks = 0;
      this.#dirty = true;
      return false;
    }
    if (
      !this.#dirty || this.#quietTicksNeeded === 0 || ++this.#quietTicks < this.#quietTicksNeeded ||
      this.#gc === null
    ) {
      return false;
    }
    this.#dirty = false;
    // A regular collection first: the memory-reducing one alone, on a heap
    // still holding a burst's garbage, raised the RSS by 10 MB for a moment
    // (10 000 idle connections: 135 MB, 145 MB during the trim, then 109 MB);
    // after the regular one it shrinks the heap without that rise.
    this.#gc({ type: "major", execution: "sync", flavor: "regular" });
    this.#gc({ type: "major", execution: "sync", flavor: "last-resort" });
    // The request path's hidden classes have survived the collections
    // through the anchored objects; those objects need not outlive them.
    releaseShapeAnchors();
    const release = this.#firstTrimDone;
    this.#firstTrimDone = null;
    release?.();
    return true;
  }

  #total(): number {
    let total = 0;
    for (const source of this.#sources) total += source();
    return total;
  }
}

/** This isolate's trimmer. */
export const isolateHeapTrim: IdleHeapTrim = new IdleHeapTrim();
