/**
 * Named 64-bit cells in shared memory, so counters (rate limits) are exact
 * across data-plane worker isolates. One SharedArrayBuffer per node holds a
 * hash table: a cell is found by hashing its name and probing. Values are
 * updated with Atomics, never locked; claiming and releasing a cell (at
 * config changes only) take a spin lock, so that isolates building the same
 * filter at once agree on its cell and a released cell can be reused.
 * Claims are counted per holder (each data plane), so the claims of a
 * worker that crashed can be given up for it ({@linkcode SharedSlots.releaseHolder}).
 *
 * @module
 */

import { HolderClaims, withSpinLock } from "./shared_claims.ts";

/** How many cells a table holds unless told otherwise. */
export const DEFAULT_SLOT_COUNT = 8192;

/** Header words: the lock, the cell count, the holder count, padding. */
const HEADER_BYTES = 16;
/** Bytes per cell: its value (8), name hash (4) and claim total (4). */
const CELL_BYTES = 16;
/** A name hash of a cell that was released: probing goes on past it. */
const RELEASED = -1;

/** Bytes needed for `count` cells claimed by up to `holders` isolates. */
export function sharedSlotsBytes(count = DEFAULT_SLOT_COUNT, holders = 1): number {
  return HEADER_BYTES + count * (CELL_BYTES + 4 * holders);
}

/** FNV-1a of `name`'s chars from offset basis `basis`; never 0 (a free cell) nor -1 (released). */
export function nameHash(name: string, basis = 0x811c9dc5): number {
  let h = basis;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h === 0 || h === RELEASED ? 1 : h;
}

/** A table of named 64-bit cells over a (shared) buffer. */
export class SharedSlots {
  readonly #header: Int32Array;
  readonly #values: BigInt64Array;
  /** The same cells as 32-bit words, for counters that need no BigInt. */
  readonly #words: Int32Array;
  readonly #names: Int32Array;
  readonly #claims: HolderClaims;
  readonly #count: number;

  /**
   * A new table of `count` cells in a SharedArrayBuffer, for `holders`
   * isolates (the data planes); this view of it is holder 0's.
   */
  static create(count = DEFAULT_SLOT_COUNT, holders = 1): SharedSlots {
    const buffer = new SharedArrayBuffer(sharedSlotsBytes(count, holders));
    const header = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    header[1] = count;
    header[2] = holders;
    return new SharedSlots(buffer, 0);
  }

  /** Views the table in `buffer` (made by {@linkcode create}) as `holder`. */
  constructor(buffer: SharedArrayBuffer | ArrayBuffer, holder: number) {
    this.#header = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    const count = this.#count = this.#header[1];
    const holders = this.#header[2];
    if (!(count > 0) || buffer.byteLength < sharedSlotsBytes(count, holders)) {
      throw new RangeError(
        "Shared slots: the buffer holds no table (make it with SharedSlots.create)",
      );
    }
    let at = HEADER_BYTES;
    this.#values = new BigInt64Array(buffer, at, count);
    this.#words = new Int32Array(buffer, at, count * 2);
    this.#names = new Int32Array(buffer, at += count * 8, count);
    const totals = new Int32Array(buffer, at += count * 4, count);
    const counts = new Int32Array(buffer, at + count * 4, count * holders);
    this.#claims = new HolderClaims(totals, counts, holders, holder);
  }

  /** The buffer, to hand to other isolates. */
  get buffer(): SharedArrayBuffer | ArrayBuffer {
    return this.#values.buffer as SharedArrayBuffer | ArrayBuffer;
  }

  /**
   * The index of the cell called `name`, claimed for one more holder (a new
   * cell starts at 0); throws when every cell is held. Each claim is paired
   * with a {@linkcode release}.
   */
  cell(name: string): number {
    const h = nameHash(name);
    const names = this.#names;
    const count = this.#count;
    const start = (h >>> 0) % count;
    return withSpinLock(this.#header, 0, () => {
      let reusable = -1;
      for (let n = 0; n < count; n++) {
        const i = (start + n) % count;
        const seen = names[i];
        if (seen === h) {
          this.#claims.add(i);
          return i;
        }
        if (seen === RELEASED) {
          if (reusable === -1) reusable = i;
        } else if (seen === 0) {
          if (reusable === -1) reusable = i;
          break;
        }
      }
      if (reusable === -1) {
        throw new RangeError(`Cannot allocate shared cell "${name}": all ${count} cells are used`);
      }
      Atomics.store(this.#values, reusable, 0n);
      names[reusable] = h;
      this.#claims.add(reusable);
      return reusable;
    });
  }

  /** Gives up one claim on `cell`; the last one frees it for another name. */
  release(cell: number): void {
    withSpinLock(this.#header, 0, () => {
      if (this.#claims.remove(cell)) this.#names[cell] = RELEASED;
    });
  }

  /**
   * Gives up every claim of `holder`, an isolate that is gone (a worker
   * that crashed) and cannot release its own.
   */
  releaseHolder(holder: number): void {
    withSpinLock(this.#header, 0, () => {
      this.#claims.dropHolder(holder, (cell) => this.#names[cell] = RELEASED);
    });
  }

  /** How many cells are held now. */
  get used(): number {
    return this.#claims.heldCount();
  }

  /** The cell's current value. */
  load(cell: number): bigint {
    return Atomics.load(this.#values, cell);
  }

  /**
   * Adds one to a 32-bit counter kept in the cell and returns what it held
   * (0 to 2^32-1, then 0 again). Such a cell is used only as a counter: its
   * 64-bit value is not meaningful.
   */
  increment(cell: number): number {
    return Atomics.add(this.#words, cell * 2, 1) >>> 0;
  }

  /** Sets the cell to `next` if it still holds `expected`; returns what it held. */
  compareExchange(cell: number, expected: bigint, next: bigint): bigint {
    return Atomics.compareExchange(this.#values, cell, expected, next);
  }
}

/** Microseconds since the epoch, comparable across isolates (unlike performance.now()). */
export function nowMicros(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
}

/**
 * A rate limiter on one shared cell, as Easegress counts: time is cut into
 * periods of `periodMicros`, each with `limit` turns; a caller past them
 * takes a turn of a later period and waits for it, if that period starts
 * within `timeoutMicros` (at most `limit` × (timeout / period + 1) turns are
 * handed out from the start of the current period). Periods start when the
 * first isolate made the limiter (a second cell holds that time); the cell
 * holds the number of the next free turn, counted over all periods: period
 * index × limit + turns taken in it.
 */
export class SharedRateLimiter {
  readonly #slots: SharedSlots;
  readonly #cell: number;
  readonly #limit: bigint;
  readonly #period: bigint;
  readonly #maxTurns: bigint;
  readonly #originCell: number;
  /** When the first period started. */
  readonly #origin: bigint;

  constructor(
    slots: SharedSlots,
    name: string,
    limit: number,
    periodMicros: number,
    timeoutMicros: number,
    madeAt: bigint = nowMicros(),
  ) {
    this.#slots = slots;
    this.#cell = slots.cell(name);
    this.#limit = BigInt(Math.max(1, Math.round(limit)));
    this.#period = BigInt(Math.max(1, Math.round(periodMicros)));
    const ahead = BigInt(Math.floor(Math.max(0, timeoutMicros) / Number(this.#period)));
    this.#maxTurns = this.#limit * (ahead + 1n);
    const origin = this.#originCell = slots.cell(`${name}/origin`);
    const seen = slots.compareExchange(origin, 0n, madeAt);
    this.#origin = seen === 0n ? madeAt : seen;
  }

  /** Gives up its cells: the last isolate's close frees them for other limiters. */
  close(): void {
    this.#slots.release(this.#cell);
    this.#slots.release(this.#originCell);
  }

  /**
   * Takes a turn: returns how many microseconds to wait before going on
   * (0: go now), or -1 when no turn is free soon enough (nothing taken).
   */
  acquire(now: bigint = nowMicros()): number {
    const limit = this.#limit;
    const period = this.#period;
    const elapsed = now - this.#origin;
    const cycle = elapsed > 0n ? elapsed / period : 0n;
    const first = cycle * limit;
    for (;;) {
      const old = this.#slots.load(this.#cell);
      const next = old > first ? old : first;
      const taken = next - first;
      if (taken >= this.#maxTurns) return -1;
      if (this.#slots.compareExchange(this.#cell, old, next + 1n) === old) {
        if (taken < limit) return 0;
        return Number(this.#origin + (cycle + taken / limit) * period - now);
      }
    }
  }
}
