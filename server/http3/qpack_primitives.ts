/**
 * QPACK's wire primitives (RFC 9204 §4.1): prefixed integers (RFC 7541 §5.1)
 * and string literals with an optional Huffman flag. Field names and values
 * are handled as byte strings: each byte is one char 0..255, which is what
 * the fetch `Headers` class accepts and yields.
 *
 * @module
 */

import { latin1 } from "../../filters/byte_string.ts";
import {
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  huffmanMaxDecodedLength,
} from "./huffman.ts";

/** Integers above this are rejected: no legitimate length, index or count gets close. */
const MAX_PREFIX_INT = 2 ** 32;

/** Thrown for input that cannot be QPACK: the caller maps it to the right H3 error code. */
export class QpackFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QpackFormatError";
  }
}

/**
 * A string literal longer than its reader allows: well-formed input, too
 * large for what the limit bounds (a field section, a table entry).
 */
export class QpackStringTooLongError extends QpackFormatError {
  constructor(length: number) {
    super(`string of ${length} bytes exceeds limit`);
    this.name = "QpackStringTooLongError";
  }
}

/** A read position over `buf[pos, end)`, shared by the instruction parsers. */
export class ByteCursor {
  /** Bytes being read. */
  buf: Uint8Array = new Uint8Array(0);
  /** Next byte to read. */
  pos = 0;
  /** One past the last readable byte. */
  end = 0;

  /** Points the cursor at `buf[start, end)`. */
  reset(buf: Uint8Array, start = 0, end = buf.length): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }
}

/**
 * Reads an integer with an N-bit prefix at the cursor. Returns -1, leaving the
 * cursor where it was, when the input ends first (the caller waits for more).
 */
export function readPrefixInt(cursor: ByteCursor, prefixBits: number): number {
  const { buf, end } = cursor;
  let pos = cursor.pos;
  if (pos >= end) return -1;
  const max = (1 << prefixBits) - 1;
  let value = buf[pos++] & max;
  if (value < max) {
    cursor.pos = pos;
    return value;
  }
  let shift = 1; // multiplier for the next 7 bits, kept as a double to pass 2^31
  for (;;) {
    if (pos >= end) return -1;
    const byte = buf[pos++];
    value += (byte & 0x7f) * shift;
    if (value > MAX_PREFIX_INT) throw new QpackFormatError("integer exceeds 2^32");
    if ((byte & 0x80) === 0) break;
    shift *= 128;
  }
  cursor.pos = pos;
  return value;
}

let scratch = new Uint8Array(256);

/**
 * Reads a string literal whose Huffman flag is the bit just above an N-bit
 * length prefix. Returns null, leaving the cursor unchanged, when the input
 * ends first. Strings longer than `maxLength` bytes throw.
 */
export function readStringLiteral(
  cursor: ByteCursor,
  prefixBits: number,
  maxLength: number,
): string | null {
  const start = cursor.pos;
  if (start >= cursor.end) return null;
  const huffman = (cursor.buf[start] & (1 << prefixBits)) !== 0;
  const length = readPrefixInt(cursor, prefixBits);
  if (length < 0) return null;
  if (cursor.pos + length > cursor.end) {
    cursor.pos = start;
    return null;
  }
  const from = cursor.pos;
  cursor.pos += length;
  if (!huffman) {
    if (length > maxLength) throw new QpackStringTooLongError(length);
    return latin1(cursor.buf, from, from + length);
  }
  const room = huffmanMaxDecodedLength(length);
  if (scratch.length < room) scratch = new Uint8Array(Math.max(room, scratch.length * 2));
  let decodedLength: number;
  try {
    decodedLength = huffmanDecode(cursor.buf, from, from + length, scratch);
  } catch (error) {
    throw new QpackFormatError((error as Error).message);
  }
  if (decodedLength > maxLength) throw new QpackStringTooLongError(decodedLength);
  return latin1(scratch, 0, decodedLength);
}

/** A growable output buffer for QPACK instructions and field sections. */
export class ByteWriter {
  #buf: Uint8Array;
  #length = 0;

  constructor(initialSize = 256) {
    this.#buf = new Uint8Array(initialSize);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  /** The storage, written from 0 to {@linkcode length}; valid until the next write. */
  get buffer(): Uint8Array {
    return this.#buf;
  }

  /** Forgets everything written, keeping the storage. */
  clear(): void {
    this.#length = 0;
  }

  /** A copy of the bytes written so far. */
  toBytes(): Uint8Array {
    return this.#buf.slice(0, this.#length);
  }

  /** Writes the bytes written so far into `dst` at `offset`. */
  copyTo(dst: Uint8Array, offset: number): void {
    dst.set(this.#buf.subarray(0, this.#length), offset);
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(needed, this.#buf.length * 2));
    grown.set(this.#buf.subarray(0, this.#length));
    this.#buf = grown;
  }

  /** Appends one byte. */
  byte(value: number): void {
    this.#reserve(1);
    this.#buf[this.#length++] = value;
  }

  /** Appends an integer with an N-bit prefix; `flags` fills the bits above the prefix. */
  prefixInt(flags: number, prefixBits: number, value: number): void {
    const max = (1 << prefixBits) - 1;
    this.#reserve(8);
    if (value < max) {
      this.#buf[this.#length++] = flags | value;
      return;
    }
    this.#buf[this.#length++] = flags | max;
    value -= max;
    while (value >= 128) {
      this.#buf[this.#length++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.#buf[this.#length++] = value;
  }

  /**
   * Appends a string literal after an N-bit length prefix, one byte per char
   * and never Huffman-coded (chars above 0xFF are not bytes and must not be
   * given).
   */
  rawStringLiteral(flags: number, prefixBits: number, value: string): void {
    const length = value.length;
    this.prefixInt(flags, prefixBits, length);
    this.#reserve(length);
    const buf = this.#buf;
    const at = this.#length;
    for (let i = 0; i < length; i++) buf[at + i] = value.charCodeAt(i);
    this.#length = at + length;
  }

  /**
   * Appends a string literal after an N-bit length prefix, Huffman-coded when
   * that is shorter; `huffmanFlag` is the bit that marks Huffman coding.
   */
  stringLiteral(flags: number, prefixBits: number, huffmanFlag: number, value: string): void {
    const raw = byteStringToBytes(value);
    const huffmanLength = huffmanEncodedLength(raw);
    if (huffmanLength < raw.length) {
      this.prefixInt(flags | huffmanFlag, prefixBits, huffmanLength);
      this.#reserve(huffmanLength);
      this.#length = huffmanEncode(raw, this.#buf, this.#length);
    } else {
      this.prefixInt(flags, prefixBits, raw.length);
      this.#reserve(raw.length);
      this.#buf.set(raw, this.#length);
      this.#length += raw.length;
    }
  }
}

let stringScratch = new Uint8Array(256);

/**
 * A byte string's bytes, in a scratch buffer reused by the next call. Chars
 * above 0xFF cannot be sent and throw.
 */
function byteStringToBytes(value: string): Uint8Array {
  if (stringScratch.length < value.length) {
    stringScratch = new Uint8Array(Math.max(value.length, stringScratch.length * 2));
  }
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code > 0xff) throw new QpackFormatError(`char U+${code.toString(16)} is not a byte`);
    stringScratch[i] = code;
  }
  return stringScratch.subarray(0, value.length);
}
