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

import { nameHash } from "./shared_slots.ts";

/** How many bytes the regions can take unless told otherwise. */
export const DEFAULT_REGION_BYTES = 64 * 1024 * 1024;
/** How many regions can be held at once. */
const MAX_REGIONS = 1024;
/** Per region: two hashes of its name, byte offset, byte length, holder count. */
const ENTRY_WORDS = 5;
const HASH = 0;
const HASH2 = 1;
const OFFSET = 2;
const LENGTH = 3;
const HOLDERS = 4;
/** The second hash's FNV offset basis: two 32-bit hashes make a collision of names unlikely. */
const SECOND_BASIS = 0x050c5d1f;
/** The lock word, a padding word, then the table; regions start after it. */
const TABLE_START = 2;
const DATA_START = (TABLE_START + MAX_REGIONS * ENTRY_WORDS) * 4;

/** A region claimed from {@linkcode SharedRegions.claim}. */
export interface Region {
  /** The buffer the region lies in. */
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  /** Where it starts, a multiple of 8. */
  readonly offset: number;
  /** Its size in bytes. */
  readonly length: number;
}

/** A table of named regions over a (shared) buffer. */
export class SharedRegions {
  readonly #words: Int32Array;
  readonly #bytes: Uint8Array;

  /** Views `buffer` (a SharedArrayBuffer across isolates) as a table of regions. */
  constructor(
    buffer: SharedArrayBuffer | ArrayBuffer = new SharedArrayBuffer(DEFAULT_REGION_BYTES),
  ) {
    if (buffer.byteLength <= DATA_START) {
      throw new RangeError(`Shared regions need more than ${DATA_START} bytes`);
    }
    this.#words = new Int32Array(buffer, 0, DATA_START / 4);
    this.#bytes = new Uint8Array(buffer);
  }

  /** The buffer, to hand to other isolates. */
  get buffer(): SharedArrayBuffer | ArrayBuffer {
    return this.#bytes.buffer as SharedArrayBuffer | ArrayBuffer;
  }

  /**
   * The region called `name` of `length` bytes, claimed for one more holder;
   * a new one starts zeroed. Throws a `RangeError` saying how much is left
   * when it does not fit. Each claim is paired with a {@linkcode release}.
   */
  claim(name: string, length: number): Region {
    const size = Math.ceil(length / 8) * 8;
    const h = nameHash(name);
    const h2 = nameHash(name, SECOND_BASIS);
    const words = this.#words;
    this.#acquireLock();
    try {
      let free = -1;
      const held: number[] = [];
      for (let e = TABLE_START; e < words.length; e += ENTRY_WORDS) {
        if (words[e + HOLDERS] === 0) {
          if (free === -1) free = e;
          continue;
        }
        if (words[e + HASH] === h && words[e + HASH2] === h2 && words[e + LENGTH] === size) {
          words[e + HOLDERS]++;
          return { buffer: this.buffer, offset: words[e + OFFSET], length: size };
        }
        held.push(e);
      }
      if (free === -1) {
        throw new RangeError(
          `Cannot claim shared memory for "${name}": ${MAX_REGIONS} regions are held`,
        );
      }
      const offset = this.#firstGap(held, size);
      if (offset < 0) {
        throw new RangeError(
          `Cannot claim ${size} bytes of shared memory for "${name}": ` +
            `${this.#largestGap(held)} bytes are free in one piece`,
        );
      }
      this.#bytes.fill(0, offset, offset + size);
      words[free + HASH] = h;
      words[free + HASH2] = h2;
      words[free + OFFSET] = offset;
      words[free + LENGTH] = size;
      words[free + HOLDERS] = 1;
      return { buffer: this.buffer, offset, length: size };
    } finally {
      this.#releaseLock();
    }
  }

  /** Gives up one claim on `region`; the last one frees its bytes. */
  release(region: Region): void {
    const words = this.#words;
    this.#acquireLock();
    try {
      for (let e = TABLE_START; e < words.length; e += ENTRY_WORDS) {
        if (words[e + HOLDERS] > 0 && words[e + OFFSET] === region.offset) {
          words[e + HOLDERS]--;
          return;
        }
      }
    } finally {
      this.#releaseLock();
    }
  }

  /** How many regions are held now. */
  get used(): number {
    let used = 0;
    for (let e = TABLE_START; e < this.#words.length; e += ENTRY_WORDS) {
      if (this.#words[e + HOLDERS] > 0) used++;
    }
    return used;
  }

  /** The lowest offset with `size` free bytes between the held regions, or -1. */
  #firstGap(held: number[], size: number): number {
    let at = DATA_START;
    for (const e of this.#byOffset(held)) {
      if (this.#words[e + OFFSET] - at >= size) break;
      at = this.#words[e + OFFSET] + this.#words[e + LENGTH];
    }
    return at + size <= this.#bytes.length ? at : -1;
  }

  #largestGap(held: number[]): number {
    let at = DATA_START;
    let largest = 0;
    for (const e of this.#byOffset(held)) {
      largest = Math.max(largest, this.#words[e + OFFSET] - at);
      at = this.#words[e + OFFSET] + this.#words[e + LENGTH];
    }
    return Math.max(largest, this.#bytes.length - at);
  }

  #byOffset(entries: number[]): number[] {
    return entries.sort((a, b) => this.#words[a + OFFSET] - this.#words[b + OFFSET]);
  }

  #acquireLock(): void {
    // Held for one walk over the table, only while filters are built or closed.
    while (Atomics.compareExchange(this.#words, 0, 0, 1) !== 0) {
      // Spin: the holder is another isolate, on another thread.
    }
  }

  #releaseLock(): void {
    Atomics.store(this.#words, 0, 0);
  }
}
