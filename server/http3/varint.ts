/**
 * QUIC variable-length integers (RFC 9000 §16): the two high bits of the first
 * byte give the encoded size (1, 2, 4 or 8 bytes), the rest is the value in
 * network byte order.
 *
 * Values are JS numbers. Values above 2^53 lose precision, which is harmless
 * here: they only appear as reserved (GREASE) frame or setting identifiers,
 * and those are compared against small known constants or ignored.
 *
 * @module
 */

/** One more than the largest value a QUIC varint can hold (2^62 - 1 is not a double). */
const VARINT_LIMIT = 2 ** 62;

/** Encoded size in bytes of a varint whose first byte is `firstByte`. */
export function varintSizeFromFirstByte(firstByte: number): 1 | 2 | 4 | 8 {
  return (1 << (firstByte >> 6)) as 1 | 2 | 4 | 8;
}

/** Bytes needed to encode `value` as a varint. Throws RangeError when out of range. */
export function varintLength(value: number): 1 | 2 | 4 | 8 {
  if (!(value >= 0 && value < VARINT_LIMIT)) {
    throw new RangeError(`Cannot encode varint ${value}: out of range 0..2^62-1`);
  }
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x40000000) return 4;
  return 8;
}

/**
 * Writes `value` at `offset` in its shortest form and returns the offset just
 * past it. The caller makes sure `buf` has room (see {@linkcode varintLength}).
 */
export function writeVarint(buf: Uint8Array, offset: number, value: number): number {
  const size = varintLength(value);
  switch (size) {
    case 1:
      buf[offset] = value;
      return offset + 1;
    case 2:
      buf[offset] = 0x40 | (value >> 8);
      buf[offset + 1] = value & 0xff;
      return offset + 2;
    case 4:
      buf[offset] = 0x80 | (value >>> 24);
      buf[offset + 1] = (value >>> 16) & 0xff;
      buf[offset + 2] = (value >>> 8) & 0xff;
      buf[offset + 3] = value & 0xff;
      return offset + 4;
    default: {
      const high = Math.floor(value / 0x100000000);
      const low = value >>> 0;
      buf[offset] = 0xc0 | (high >>> 24);
      buf[offset + 1] = (high >>> 16) & 0xff;
      buf[offset + 2] = (high >>> 8) & 0xff;
      buf[offset + 3] = high & 0xff;
      buf[offset + 4] = low >>> 24;
      buf[offset + 5] = (low >>> 16) & 0xff;
      buf[offset + 6] = (low >>> 8) & 0xff;
      buf[offset + 7] = low & 0xff;
      return offset + 8;
    }
  }
}

/** `value` encoded as a fresh byte array. */
export function encodeVarint(value: number): Uint8Array {
  const out = new Uint8Array(varintLength(value));
  writeVarint(out, 0, value);
  return out;
}

/**
 * Reads the varint starting at `offset`, or returns -1 when `buf` ends before
 * the varint does. Its size is {@linkcode varintSizeFromFirstByte} of
 * `buf[offset]`, so no result object is allocated on the hot path.
 */
export function readVarint(buf: Uint8Array, offset: number): number {
  if (offset >= buf.length) return -1;
  const first = buf[offset];
  const size = varintSizeFromFirstByte(first);
  if (offset + size > buf.length) return -1;
  switch (size) {
    case 1:
      return first;
    case 2:
      return ((first & 0x3f) << 8) | buf[offset + 1];
    case 4:
      return ((first & 0x3f) * 0x1000000) +
        ((buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3]);
    default: {
      const high = ((first & 0x3f) * 0x1000000) +
        ((buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3]);
      const low = ((buf[offset + 4] << 24) >>> 0) +
        ((buf[offset + 5] << 16) | (buf[offset + 6] << 8) | buf[offset + 7]);
      return high * 0x100000000 + low;
    }
  }
}
