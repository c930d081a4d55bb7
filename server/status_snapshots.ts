/**
 * The node's object statuses read once for everyone who wants them every
 * few seconds (the cluster's status sync, EaseMonitorMetrics): reading a
 * status restarts its statistics windows (as in Easegress), so two readers
 * each reading for themselves would each see half a window.
 *
 * @module
 */

/** The statuses of the running objects, by name, and when they were read. */
export interface StatusSnapshot {
  /** When the statuses were read (`Date.now()`). */
  readonly at: number;
  readonly statuses: ReadonlyMap<string, Record<string, unknown>>;
}

/** Snapshots taken by `collect`, one shared by every taker within `maxAgeMs`. */
export class StatusSnapshots {
  readonly #collect: () => Promise<Map<string, Record<string, unknown>>>;
  readonly #maxAgeMs: number;
  #latest: Promise<StatusSnapshot> | undefined;
  #latestAt = -Infinity;

  /** `collect` reads every running object's status. */
  constructor(collect: () => Promise<Map<string, Record<string, unknown>>>, maxAgeMs: number) {
    this.#collect = collect;
    this.#maxAgeMs = maxAgeMs;
  }

  /** Whether a snapshot was taken within the last `ms`: someone reads them in rounds. */
  takenWithin(ms: number): boolean {
    return Date.now() - this.#latestAt < ms;
  }

  /** The latest snapshot when it is recent enough, else a new one. */
  take(): Promise<StatusSnapshot> {
    const now = Date.now();
    if (this.#latest === undefined || now - this.#latestAt >= this.#maxAgeMs) {
      this.#latestAt = now;
      this.#latest = this.#collect().then((statuses) => ({ at: now, statuses }));
      // A failed read is not kept: the next taker reads again.
      this.#latest.catch(() => this.#latestAt = -Infinity);
    }
    return this.#latest;
  }
}
