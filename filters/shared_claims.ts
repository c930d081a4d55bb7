/**
 * Who holds the entries of a table in shared memory (rate-limit cells,
 * circuit-breaker regions): a count per entry and per holder, a holder
 * being one data-plane isolate. Counting per holder lets the control plane
 * give up every claim of a worker that crashed, which can no longer release
 * its own, before its replacement claims them again.
 *
 * Callers change claims under their table's lock ({@linkcode withSpinLock}).
 *
 * @module
 */

/** Claim counts over shared words: a total per entry, then a count per entry and holder. */
export class HolderClaims {
  readonly #totals: Int32Array;
  readonly #counts: Int32Array;
  readonly #holders: number;
  readonly #holder: number;

  /**
   * `totals` has a word per entry, `counts` one per entry and holder (entry
   * × `holders` + holder); this view claims as `holder`.
   */
  constructor(totals: Int32Array, counts: Int32Array, holders: number, holder: number) {
    if (!Number.isInteger(holder) || holder < 0 || holder >= holders) {
      throw new RangeError(`Shared table holder ${holder} is not one of its ${holders} holders`);
    }
    this.#totals = totals;
    this.#counts = counts;
    this.#holders = holders;
    this.#holder = holder;
  }

  /** Whether anyone holds `entry`. */
  held(entry: number): boolean {
    return this.#totals[entry] > 0;
  }

  /** Whether this holder holds `entry`. */
  heldByThisHolder(entry: number): boolean {
    return this.#counts[entry * this.#holders + this.#holder] > 0;
  }

  /** How many entries someone holds. */
  heldCount(): number {
    let held = 0;
    for (const total of this.#totals) if (total > 0) held++;
    return held;
  }

  /** One more claim on `entry` by this holder. */
  add(entry: number): void {
    this.#totals[entry]++;
    this.#counts[entry * this.#holders + this.#holder]++;
  }

  /** Gives up one of this holder's claims on `entry`; true when nobody holds it any more. */
  remove(entry: number): boolean {
    const at = entry * this.#holders + this.#holder;
    if (this.#counts[at] === 0) return false;
    this.#counts[at]--;
    return --this.#totals[entry] === 0;
  }

  /** Gives up every claim of `holder`; `freed` hears of each entry nobody holds any more. */
  dropHolder(holder: number, freed: (entry: number) => void): void {
    const holders = this.#holders;
    for (let entry = 0; entry < this.#totals.length; entry++) {
      const at = entry * holders + holder;
      const n = this.#counts[at];
      if (n === 0) continue;
      this.#counts[at] = 0;
      if ((this.#totals[entry] -= n) === 0) freed(entry);
    }
  }
}

/**
 * Runs `fn` holding the spin lock in `word[index]` (0 free, 1 held). For
 * locks held briefly, at config time: another isolate holding it runs on
 * another thread.
 */
export function withSpinLock<T>(word: Int32Array, index: number, fn: () => T): T {
  while (Atomics.compareExchange(word, index, 0, 1) !== 0) {
    // Spin.
  }
  try {
    return fn();
  } finally {
    Atomics.store(word, index, 0);
  }
}
