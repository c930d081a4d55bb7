/**
 * How long each contender of a scenario rested between its rounds, so the
 * report can say when our node began a round after its idle heap trim
 * (`--heap-trim-after`, 30 s by default), which it pays for in its first
 * second or so.
 *
 * @module
 */

import type { Contender } from "./contenders.ts";
import { DEFAULT_OPTIONS, heapTrimAfterMs } from "../../server/options.ts";

/** The node's default quiet time before an isolate trims its heap (`--heap-trim-after`). */
const NODE_HEAP_TRIM_SECONDS = heapTrimAfterMs(DEFAULT_OPTIONS) / 1000;
/** By then the trim has surely run: the node looks for traffic once a second. */
const NODE_TRIMMED_SECONDS = NODE_HEAP_TRIM_SECONDS + 2;

/** How long each contender's process rested before each of its rounds. */
export class RestLog {
  readonly #lastBusy = new Map<Contender["process"], number>();
  readonly #rests = new Map<Contender, number[]>();
  readonly #now: () => number;

  /** `now` reads a clock in milliseconds. */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** `c` has just served load. */
  busy(c: Contender): void {
    this.#lastBusy.set(c.process, this.#now());
  }

  /** A round of `c` starts now. */
  starting(c: Contender): void {
    const last = this.#lastBusy.get(c.process);
    if (last === undefined) return;
    const list = this.#rests.get(c) ?? [];
    list.push((this.#now() - last) / 1000);
    this.#rests.set(c, list);
  }

  /** A note for each node contender whose rounds began after its heap trim. */
  trimNotes(contenders: readonly Contender[]): string[] {
    const notes: string[] = [];
    for (const c of contenders) {
      const rests = this.#rests.get(c) ?? [];
      const trimmed = rests.filter((s) => s > NODE_TRIMMED_SECONDS);
      if (!c.name.startsWith("node") || trimmed.length === 0) continue;
      const low = Math.min(...trimmed).toFixed(0);
      const high = Math.max(...trimmed).toFixed(0);
      notes.push(
        `${c.name}: ${trimmed.length} of ${rests.length} rounds began after ` +
          `${low === high ? low : `${low}-${high}`} s without load, when its ` +
          `${NODE_HEAP_TRIM_SECONDS} s idle heap trim had run: their first second or so ran with ` +
          "a young generation growing back (README: Latency after a quiet spell)",
      );
    }
    return notes;
  }
}
