/**
 * A cap on the idle keep-alive connections of several upstream pools
 * together: the Proxy's `maxIdleConns`, as Go's `Transport.MaxIdleConns`
 * caps a client's idle connections over every host (each pool still keeps
 * at most `maxIdleConnsPerHost` of its own).
 *
 * @module
 */

/** Idle connections counted across the pools that share this budget. */
export class IdleBudget {
  readonly max: number;
  #idle = 0;

  constructor(max: number) {
    this.max = max;
  }

  /** Idle connections held now. */
  get idle(): number {
    return this.#idle;
  }

  /** Counts one more idle connection; false (nothing counted) when the cap is reached. */
  take(): boolean {
    if (this.#idle >= this.max) return false;
    this.#idle++;
    return true;
  }

  /** An idle connection left the idle list (reused or closed). */
  give(count = 1): void {
    this.#idle = Math.max(0, this.#idle - count);
  }
}
