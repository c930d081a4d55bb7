/**
 * Named byte regions in memory shared by every data-plane isolate of a node,
 * for state bigger than a counter that must be one node-wide (a circuit
 * breaker's window). One SharedArrayBuffer holds a table of regions and the
 * bytes they point at; claiming and releasing a region (at config changes
 * only) take a spin lock, so isolates building the same filter at once agree
 * on its region. What a region holds is up to its user, who guards it with
 * Atomics of its own.
 *
 * The buffer is address space more than memory: the operating system gives
 * a page only when it is first written.
 *
 * @module
 */

import { HolderClaims, withSpinLock } from "./shared_claims.ts";
import { nameHash } from "./shared_slots.ts";

/** How many bytes the regions can take unless told otherwise. */
export const DEFAULT_REGION_BYTES = 64 * 1024 * 1024;
/**
 * A table entry per this many bytes of the buffer: how many regions can be
 * held at once (8192 in the default 64 MB; a pool with a circuit breaker and
 * a health check holds two).
 */
const BYTES_PER_REGION = 8192;
/** Header words: the lock, the holder count, the table's entry count, padding. */
const HEADER_WORDS = 4;
/** Per region: two hashes of its name, byte offset, byte length. */
const ENTRY_WORDS = 4;
const HASH = 0;
const HASH2 = 1;
const OFFSET = 2;
const LENGTH = 3;
/** The second hash's FNV offset basis: two 32-bit hashes make a collision of names unlikely. */
const SECOND_BASIS = 0x050c5d1f;

/**
 * Where the regions' bytes start: after the header, the table, each
 * region's claim total and its claim count per holder.
 */
function dataStart(holders: number, count: number): number {
  return Math.ceil((HEADER_WORDS + count * (ENTRY_WORDS + 1 + holders)) / 2) * 8;
}

/** A region claimed from {@linkcode SharedRegions.claim}. */
export interface Region {
  /** The buffer the region lies in. */
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  /** Where it starts, a multiple of 8. */
  readonly offset: number;
  /** Its size in bytes. */
  readonly length: number;
  /**
   * Whether this holder held no claim on it before this one: what the
   * region keeps for this holder is then left from one that is gone (a
   * crashed worker), or zero.
   */
  readonly firstForHolder: boolean;
}

/**
 * What {@linkcode SharedRegions.claim} throws when a region does not fit:
 * `shortage` says why without the region's name, which is the claimer's
 * internal key, so a caller can word the error for its user.
 */
export class RegionsFullError extends RangeError {
  /** Why the region does not fit ("4096 bytes wanted, 1024 bytes are free in one piece"). */
  readonly shortage: string;

  constructor(message: string, shortage: string) {
    super(message);
    this.name = "RegionsFullError";
    this.shortage = shortage;
  }
}

/** A table of named regions over a (shared) buffer. */
export class SharedRegions {
  readonly #header: Int32Array;
  readonly #table: Int32Array;
  readonly #claims: HolderClaims;
  readonly #bytes: Uint8Array;
  readonly #dataStart: number;
  /** How many regions can be held at once. */
  readonly #count: number;
  /** The isolates that claim regions: the node's data planes. */
  readonly holders: number;
  /** Which of them this view claims for, from 0. */
  readonly holder: number;

  /**
   * New regions of `bytes` in all (their table included) in a
   * SharedArrayBuffer, for `holders` isolates (the data planes); this view
   * is holder 0's.
   */
  static create(bytes = DEFAULT_REGION_BYTES, holders = 1): SharedRegions {
    const count = Math.max(1, Math.floor(bytes / BYTES_PER_REGION));
    if (bytes <= dataStart(holders, count)) {
      throw new RangeError(`Shared regions need more than ${dataStart(holders, count)} bytes`);
    }
    const buffer = new SharedArrayBuffer(bytes);
    const header = new Int32Array(buffer, 0, HEADER_WORDS);
    header[1] = holders;
    header[2] = count;
    return new SharedRegions(buffer, 0);
  }

  /** Views the regions in `buffer` (made by {@linkcode create}) as `holder`. */
  constructor(buffer: SharedArrayBuffer | ArrayBuffer, holder: number) {
    const header = this.#header = new Int32Array(buffer, 0, HEADER_WORDS);
    const holders = this.holders = header[1];
    const count = this.#count = header[2];
    this.holder = holder;
    if (!(holders > 0) || !(count > 0) || buffer.byteLength <= dataStart(holders, count)) {
      throw new RangeError(
        "Shared regions: the buffer holds no table (make it with SharedRegions.create)",
      );
    }
    let at = HEADER_WORDS * 4;
    this.#table = new Int32Array(buffer, at, count * ENTRY_WORDS);
    const totals = new Int32Array(buffer, at += count * ENTRY_WORDS * 4, count);
    const counts = new Int32Array(buffer, at + count * 4, count * holders);
    this.#claims = new HolderClaims(totals, counts, holders, holder);
    this.#bytes = new Uint8Array(buffer);
    this.#dataStart = dataStart(holders, count);
  }

  /** The buffer, to hand to other isolates. */
  get buffer(): SharedArrayBuffer | ArrayBuffer {
    return this.#bytes.buffer as SharedArrayBuffer | ArrayBuffer;
  }

  /**
   * The region called `name` of `length` bytes, claimed for one more holder;
   * a new one starts zeroed. Throws a {@linkcode RegionsFullError} saying how
   * much is left when it does not fit. Each claim is paired with a {@linkcode release}.
   */
  claim(name: string, length: number): Region {
    const size = Math.ceil(length / 8) * 8;
    const h = nameHash(name);
    const h2 = nameHash(name, SECOND_BASIS);
    const table = this.#table;
    return withSpinLock(this.#header, 0, () => {
      let free = -1;
      const held: number[] = [];
      for (let r = 0; r < this.#count; r++) {
        if (!this.#claims.held(r)) {
          if (free === -1) free = r;
          continue;
        }
        const e = r * ENTRY_WORDS;
        if (table[e + HASH] === h && table[e + HASH2] === h2 && table[e + LENGTH] === size) {
          const firstForHolder = !this.#claims.heldByThisHolder(r);
          this.#claims.add(r);
          return this.#region(r, firstForHolder);
        }
        held.push(r);
      }
      if (free === -1) {
        const shortage = `all ${this.#count} regions are held`;
        throw new RegionsFullError(
          `Cannot claim shared memory for "${name}": ${shortage}`,
          shortage,
        );
      }
      const offset = this.#firstGap(held, size);
      if (offset < 0) {
        const room = `${this.#largestGap(held)} bytes are free in one piece`;
        throw new RegionsFullError(
          `Cannot claim ${size} bytes of shared memory for "${name}": ${room}`,
          `${size} bytes wanted, ${room}`,
        );
      }
      this.#bytes.fill(0, offset, offset + size);
      const e = free * ENTRY_WORDS;
      table[e + HASH] = h;
      table[e + HASH2] = h2;
      table[e + OFFSET] = offset;
      table[e + LENGTH] = size;
      this.#claims.add(free);
      return this.#region(free, true);
    });
  }

  /** Gives up one claim on `region`; the last one frees its bytes. */
  release(region: Region): void {
    withSpinLock(this.#header, 0, () => {
      for (let r = 0; r < this.#count; r++) {
        if (this.#claims.held(r) && this.#table[r * ENTRY_WORDS + OFFSET] === region.offset) {
          this.#claims.remove(r);
          return;
        }
      }
    });
  }

  /**
   * Gives up every claim of `holder`, an isolate that is gone (a worker
   * that crashed) and cannot release its own.
   */
  releaseHolder(holder: number): void {
    withSpinLock(this.#header, 0, () => this.#claims.dropHolder(holder, () => {}));
  }

  /** How many regions are held now. */
  get used(): number {
    return this.#claims.heldCount();
  }

  #region(r: number, firstForHolder: boolean): Region {
    const e = r * ENTRY_WORDS;
    return {
      buffer: this.buffer,
      offset: this.#table[e + OFFSET],
      length: this.#table[e + LENGTH],
      firstForHolder,
    };
  }

  /** The lowest offset with `size` free bytes between the held regions, or -1. */
  #firstGap(held: number[], size: number): number {
    let at = this.#dataStart;
    for (const r of this.#byOffset(held)) {
      const offset = this.#table[r * ENTRY_WORDS + OFFSET];
      if (offset - at >= size) break;
      at = offset + this.#table[r * ENTRY_WORDS + LENGTH];
    }
    return at + size <= this.#bytes.length ? at : -1;
  }

  #largestGap(held: number[]): number {
    let at = this.#dataStart;
    let largest = 0;
    for (const r of this.#byOffset(held)) {
      const offset = this.#table[r * ENTRY_WORDS + OFFSET];
      largest = Math.max(largest, offset - at);
      at = offset + this.#table[r * ENTRY_WORDS + LENGTH];
    }
    return Math.max(largest, this.#bytes.length - at);
  }

  #byOffset(regions: number[]): number[] {
    const table = this.#table;
    return regions.sort((a, b) =>
      table[a * ENTRY_WORDS + OFFSET] - table[b * ENTRY_WORDS + OFFSET]
    );
  }
}
