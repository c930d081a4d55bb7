/**
 * Deadlines that come in the order they are set, served by one timer.
 *
 * When every entry waits the same time from when it joins, deadlines fall in
 * joining order: entries sit in a list, oldest first, and one timer waits for
 * the oldest. An entry that no longer needs its deadline leaves the list at
 * once, so the list holds only what is pending, and the timer is cleared
 * when the list empties. Per entry this costs two links, where a timer each
 * would cost the runtime's timer bookkeeping and, if left to run out, keep
 * the entry alive until then.
 *
 * @module
 */

/** The longest delay setTimeout takes (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a {@linkcode DeadlineQueue} holds; the queue keeps the links. */
export interface QueuedDeadline {
  /** When it is due (`performance.now()` clock). */
  deadline: number;
  older: QueuedDeadline | null;
  newer: QueuedDeadline | null;
  /** Called once when the deadline passes; the entry has left the queue by then. */
  due(): void;
}

/** A list of deadlines in non-decreasing order with one timer for the oldest. */
export class DeadlineQueue {
  #oldest: QueuedDeadline | null = null;
  #newest: QueuedDeadline | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Adds `entry`, due at `entry.deadline`, which must not be before the
   * newest entry's; `now` is the current `performance.now()`.
   */
  push(entry: QueuedDeadline, now: number): void {
    const newest = this.#newest;
    if (newest === null) {
      this.#oldest = entry;
      if (this.#timer === undefined) this.#arm(entry.deadline - now);
    } else {
      newest.newer = entry;
      entry.older = newest;
    }
    this.#newest = entry;
  }

  /** Takes `entry`, which must be queued here, out of the queue. */
  remove(entry: QueuedDeadline): void {
    const { older, newer } = entry;
    if (older === null) this.#oldest = newer;
    else older.newer = newer;
    if (newer === null) this.#newest = older;
    else newer.older = older;
    entry.older = null;
    entry.newer = null;
    if (this.#oldest === null && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Whether nothing is queued and no timer is pending. */
  get idle(): boolean {
    return this.#oldest === null && this.#timer === undefined;
  }

  #arm(delayMs: number): void {
    // setTimeout fires at once past its range; #expire arms again for an entry not yet due.
    const timer = setTimeout(this.#expire, Math.min(Math.max(0, delayMs), MAX_TIMER_MS));
    // What waits on a deadline keeps the process alive by itself; the timer need not.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  readonly #expire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    let oldest = this.#oldest;
    while (oldest !== null && oldest.deadline <= now) {
      this.remove(oldest);
      oldest.due();
      oldest = this.#oldest;
    }
    // The timer was set for an entry that may have left since: the oldest
    // now may be due later.
    if (oldest !== null && this.#timer === undefined) this.#arm(oldest.deadline - now);
  };
}
