/**
 * A minimal Protocol Buffers encoder: varint and length-delimited fields,
 * enough to write pprof's `profile.proto` without a code generator.
 *
 * @module
 */

const encoder = new TextEncoder();
const TWO_32 = 2 ** 32;

/** Writes one message's fields into a growing buffer. */
export class ProtobufWriter {
  #buf = new Uint8Array(256);
  #len = 0;

  /** The message written so far. */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  /** A varint field (wire type 0); zero is skipped, as proto3 does. Values up to 2^63. */
  varint(field: number, value: number): this {
    if (value === 0) return this;
    this.#rawVarint(field << 3);
    this.#rawVarint(value);
    return this;
  }

  /** A packed repeated varint field; empty lists are skipped. */
  packed(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    const inner = new ProtobufWriter();
    for (const value of values) inner.#rawVarint(value);
    return this.message(field, inner);
  }

  /** A string field, written even when empty (pprof's string table starts with ""). */
  string(field: number, value: string): this {
    return this.#delimited(field, encoder.encode(value));
  }

  /** An embedded message field. */
  message(field: number, message: ProtobufWriter): this {
    return this.#delimited(field, message.bytes());
  }

  #delimited(field: number, bytes: Uint8Array): this {
    this.#rawVarint((field << 3) | 2);
    this.#rawVarint(bytes.length);
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
    return this;
  }

  /** Non-negative integers only: pprof's fields that can be negative never are here. */
  #rawVarint(value: number): void {
    if (!(value >= 0) || !Number.isInteger(value)) {
      throw new RangeError(`a varint must be a non-negative integer, got ${value}`);
    }
    this.#reserve(10);
    // Above 2^32 the bit operators would truncate: peel 7 bits at a time by division.
    while (value >= TWO_32) {
      this.#buf[this.#len++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    while (value > 0x7f) {
      this.#buf[this.#len++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.#buf[this.#len++] = value;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    grown.set(this.#buf.subarray(0, this.#len));
    this.#buf = grown;
  }
}
