/**
 * HPACK (RFC 7541), the header compression of HTTP/2: a decoder for request
 * header blocks, with the dynamic table a client fills, and a stateless
 * encoder for response headers (static-table names, literal values, never
 * the dynamic table, so there is nothing for the client to track). The
 * prefixed integers, string literals and Huffman code are QPACK's too, and
 * shared with it.
 *
 * @module
 */

import {
  ByteCursor,
  ByteWriter,
  QpackFormatError,
  readPrefixInt,
  readStringLiteral,
} from "../http3/qpack_primitives.ts";

/** Thrown for a header block that cannot be decoded: a connection error (COMPRESSION_ERROR). */
export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HpackError";
  }
}

/** The static table (RFC 7541 Appendix A), index 1 first. */
const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];
const STATIC_COUNT = STATIC_TABLE.length;

/** The first static index of each name, for the encoder's indexed names. */
const STATIC_NAME_INDEX = new Map<string, number>();
for (let i = STATIC_COUNT - 1; i >= 0; i--) STATIC_NAME_INDEX.set(STATIC_TABLE[i][0], i + 1);

/** Static indexes of the `:status` values the table has whole. */
const STATUS_INDEX = new Map<number, number>([
  [200, 8],
  [204, 9],
  [206, 10],
  [304, 11],
  [400, 12],
  [404, 13],
  [500, 14],
]);

/** What each entry costs in the table beyond its bytes (RFC 7541 section 4.1). */
const ENTRY_OVERHEAD = 32;

/** Decodes the header blocks of one connection, keeping its dynamic table. */
export class HpackDecoder {
  /** Field names of the last decoded block (lower case as sent; checked by the caller). */
  readonly names: string[] = [];
  /** Field values of the last decoded block. */
  readonly values: string[] = [];
  /** Size of the last decoded block as SETTINGS_MAX_HEADER_LIST_SIZE counts it. */
  listSize = 0;

  /** Dynamic table as a ring, newest entry at `#head`. */
  #tableNames: string[] = new Array(16);
  #tableValues: string[] = new Array(16);
  #head = 0;
  #count = 0;
  #size = 0;
  /** Current maximum size, as the encoder last set it. */
  #maxSize: number;
  /** The most the encoder may set: what SETTINGS_HEADER_TABLE_SIZE announced. */
  readonly #limit: number;
  readonly #cursor = new ByteCursor();
  readonly #maxString: number;

  /**
   * `tableSize` is the SETTINGS_HEADER_TABLE_SIZE this side announced;
   * strings longer than `maxString` bytes are refused.
   */
  constructor(tableSize = 4096, maxString = 1 << 20) {
    this.#maxSize = tableSize;
    this.#limit = tableSize;
    this.#maxString = maxString;
  }

  /**
   * Decodes the whole block `buf[start, end)` into {@linkcode names} and
   * {@linkcode values}; returns the field count. The block is decoded to its
   * end even when it is too large for the caller, so the table stays in step
   * with the client's. Throws {@linkcode HpackError}.
   */
  decode(buf: Uint8Array, start: number, end: number): number {
    const cursor = this.#cursor.reset(buf, start, end);
    const names = this.names;
    const values = this.values;
    let count = 0;
    let listSize = 0;
    let fieldSeen = false;
    try {
      while (cursor.pos < end) {
        const first = buf[cursor.pos];
        let name: string;
        let value: string;
        if (first & 0x80) {
          // Indexed header field.
          const index = this.#int(cursor, 7);
          if (index === 0) throw new HpackError("index 0 in an indexed header field");
          name = this.#nameAt(index);
          value = this.#valueAt(index);
        } else if ((first & 0xe0) === 0x20) {
          // Dynamic table size update: only before the first field.
          if (fieldSeen) throw new HpackError("table size update after a header field");
          const size = this.#int(cursor, 5);
          if (size > this.#limit) {
            throw new HpackError(`table size ${size} exceeds the announced ${this.#limit}`);
          }
          this.#maxSize = size;
          this.#evict(0);
          continue;
        } else {
          // Literal: with incremental indexing (01), without (0000) or never indexed (0001).
          const indexing = (first & 0xc0) === 0x40;
          const index = this.#int(cursor, indexing ? 6 : 4);
          name = index === 0 ? this.#string(cursor) : this.#nameAt(index);
          value = this.#string(cursor);
          if (indexing) this.#insert(name, value);
        }
        fieldSeen = true;
        names[count] = name;
        values[count] = value;
        count++;
        listSize += name.length + value.length + ENTRY_OVERHEAD;
      }
    } catch (error) {
      if (error instanceof QpackFormatError) throw new HpackError(error.message);
      throw error;
    }
    this.listSize = listSize;
    return count;
  }

  #int(cursor: ByteCursor, prefixBits: number): number {
    const value = readPrefixInt(cursor, prefixBits);
    if (value < 0) throw new HpackError("header block ends inside an integer");
    return value;
  }

  #string(cursor: ByteCursor): string {
    const text = readStringLiteral(cursor, 7, this.#maxString);
    if (text === null) throw new HpackError("header block ends inside a string");
    return text;
  }

  #nameAt(index: number): string {
    if (index <= STATIC_COUNT) return STATIC_TABLE[index - 1][0];
    return this.#tableNames[this.#slot(index)];
  }

  #valueAt(index: number): string {
    if (index <= STATIC_COUNT) return STATIC_TABLE[index - 1][1];
    return this.#tableValues[this.#slot(index)];
  }

  /** The ring slot of dynamic `index` (62 is the newest entry). */
  #slot(index: number): number {
    const age = index - STATIC_COUNT - 1;
    if (age >= this.#count) throw new HpackError(`index ${index} is past the table`);
    return (this.#head + age) & (this.#tableNames.length - 1);
  }

  #insert(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.#maxSize) {
      // Too large for the table: it empties it (RFC 7541 section 4.4).
      this.#count = 0;
      this.#size = 0;
      return;
    }
    this.#evict(entrySize);
    if (this.#count === this.#tableNames.length) this.#grow();
    const mask = this.#tableNames.length - 1;
    this.#head = (this.#head - 1) & mask;
    this.#tableNames[this.#head] = name;
    this.#tableValues[this.#head] = value;
    this.#count++;
    this.#size += entrySize;
  }

  /** Drops the oldest entries until `room` more bytes fit. */
  #evict(room: number): void {
    const mask = this.#tableNames.length - 1;
    while (this.#count > 0 && this.#size + room > this.#maxSize) {
      const oldest = (this.#head + this.#count - 1) & mask;
      this.#size -= this.#tableNames[oldest].length + this.#tableValues[oldest].length +
        ENTRY_OVERHEAD;
      this.#tableNames[oldest] = "";
      this.#tableValues[oldest] = "";
      this.#count--;
    }
  }

  #grow(): void {
    const size = this.#tableNames.length;
    const names: string[] = new Array(size * 2);
    const values: string[] = new Array(size * 2);
    for (let i = 0; i < this.#count; i++) {
      names[i] = this.#tableNames[(this.#head + i) & (size - 1)];
      values[i] = this.#tableValues[(this.#head + i) & (size - 1)];
    }
    this.#tableNames = names;
    this.#tableValues = values;
    this.#head = 0;
  }
}

/**
 * Writes a response header block: `:status`, then the fields, each as a
 * literal not added to the table, with the static table's index for its
 * name when it has one. Values are sent as they are, not Huffman-coded: a
 * little more on the wire, less CPU per response.
 */
export class HpackEncoder {
  readonly #out = new ByteWriter(1024);

  /** The block written so far: its first {@linkcode length} bytes, valid until the next block. */
  get buffer(): Uint8Array {
    return this.#out.buffer;
  }

  /** Bytes in the block. */
  get length(): number {
    return this.#out.length;
  }

  /** Starts a block with `:status`. */
  begin(status: number): void {
    const out = this.#out;
    out.clear();
    const index = STATUS_INDEX.get(status);
    if (index !== undefined) {
      out.byte(0x80 | index);
      return;
    }
    // Literal without indexing, name :status (index 8).
    out.byte(0x08);
    out.rawStringLiteral(0, 7, String(status));
  }

  /** Adds one field; `name` must be lower case. */
  field(name: string, value: string): void {
    const out = this.#out;
    const index = STATIC_NAME_INDEX.get(name);
    // Literal without indexing (0000, 4-bit name index; 0 for a literal name).
    if (index !== undefined) {
      out.prefixInt(0, 4, index);
    } else {
      out.byte(0);
      out.rawStringLiteral(0, 7, name);
    }
    out.rawStringLiteral(0, 7, value);
  }
}
