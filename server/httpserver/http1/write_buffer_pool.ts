/**
 * Byte arrays of one size, kept for reuse up to a count. A fresh array costs
 * an allocation, zero-filling and garbage-collector pressure; one taken from
 * here costs nothing. Give an array back only once no pending write holds it.
 *
 * @module
 */

/** Arrays of one size, kept up to a count. */
export class WriteBufferPool {
  readonly #size: number;
  readonly #max: number;
  readonly #spare: Uint8Array[] = [];

  /** Arrays of `size` bytes; at most `max` are kept. */
  constructor(size: number, max: number) {
    this.#size = size;
    this.#max = max;
  }

  /** A kept array, or a new one. */
  take(): Uint8Array {
    return this.#spare.pop() ?? new Uint8Array(this.#size);
  }

  /** Keeps `buf` for a later `take`, unless enough are kept. */
  give(buf: Uint8Array): void {
    if (this.#spare.length < this.#max) this.#spare.push(buf);
  }
}
