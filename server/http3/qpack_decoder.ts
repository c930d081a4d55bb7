/**
 * The QPACK decoder side (RFC 9204): it reads the peer's encoder stream into
 * a dynamic table, decodes field sections from HEADERS frames, and produces
 * the instructions to send back on our decoder stream.
 *
 * The server advertises a table capacity of 0 (so a conforming peer never
 * inserts anything and never references the dynamic table), but the decoder
 * implements the dynamic table for any capacity so that it decodes correctly
 * whatever a peer sends within the advertised limit. Blocked streams are not
 * supported (we advertise SETTINGS_QPACK_BLOCKED_STREAMS = 0), so a field
 * section that needs entries not yet received is an error.
 *
 * @module
 */

import { FieldSectionTooLargeError, H3_ERROR, H3ConnectionError } from "./errors.ts";
import {
  ByteCursor,
  ByteWriter,
  QpackFormatError,
  QpackStringTooLongError,
  readPrefixInt,
  readStringLiteral,
} from "./qpack_primitives.ts";
import { STATIC_TABLE } from "./qpack_static_table.ts";

/** Per-entry overhead used in table and field section sizes (RFC 9204 §3.2.1). */
const ENTRY_OVERHEAD = 32;

/** Options for {@linkcode QpackDecoder}. */
export interface QpackDecoderOptions {
  /**
   * SETTINGS_QPACK_MAX_TABLE_CAPACITY we advertised.
   * @default {0}
   */
  maxTableCapacity?: number;
  /**
   * Largest decoded field section (sum of name + value + 32 per field) we accept.
   * @default {Infinity}
   */
  maxFieldSectionSize?: number;
}

/** The decoder's dynamic table (RFC 9204 §3.2), indexed by absolute index. */
class DynamicTable {
  readonly maxCapacity: number;
  capacity = 0;
  size = 0;
  /** Total number of inserts ever made. */
  insertCount = 0;
  /** Live entries, oldest first: entry i has absolute index dropped + i. */
  readonly #names: string[] = [];
  readonly #values: string[] = [];

  constructor(maxCapacity: number) {
    this.maxCapacity = maxCapacity;
  }

  get #dropped(): number {
    return this.insertCount - this.#names.length;
  }

  setCapacity(capacity: number): void {
    if (capacity > this.maxCapacity) {
      throw new QpackFormatError(
        `capacity ${capacity} exceeds the advertised maximum ${this.maxCapacity}`,
      );
    }
    this.capacity = capacity;
    this.#evictTo(capacity);
  }

  insert(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.capacity) {
      throw new QpackFormatError(
        `entry of ${entrySize} bytes does not fit table capacity ${this.capacity}`,
      );
    }
    this.#evictTo(this.capacity - entrySize);
    this.#names.push(name);
    this.#values.push(value);
    this.size += entrySize;
    this.insertCount++;
  }

  #evictTo(limit: number): void {
    while (this.size > limit) {
      const name = this.#names.shift()!;
      const value = this.#values.shift()!;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }

  /** Index into the live entries for absolute index `absolute`; throws if evicted or unknown. */
  slot(absolute: number): number {
    const slot = absolute - this.#dropped;
    if (absolute < 0 || slot < 0 || absolute >= this.insertCount) {
      throw new QpackFormatError(`dynamic table has no entry with absolute index ${absolute}`);
    }
    return slot;
  }

  name(absolute: number): string {
    return this.#names[this.slot(absolute)];
  }

  value(absolute: number): string {
    return this.#values[this.slot(absolute)];
  }
}

/** QPACK decoder for one connection. */
export class QpackDecoder {
  readonly #table: DynamicTable;
  readonly #maxFieldSectionSize: number;
  readonly #cursor = new ByteCursor();
  /** Encoder-stream bytes that did not yet form a whole instruction. */
  #pendingEncoderBytes: Uint8Array | null = null;
  /** Insert count the peer knows we have received (RFC 9204 §2.1.4). */
  #knownReceivedCount = 0;
  readonly #instructions = new ByteWriter(16);

  constructor(options: QpackDecoderOptions = {}) {
    this.#table = new DynamicTable(options.maxTableCapacity ?? 0);
    this.#maxFieldSectionSize = options.maxFieldSectionSize ?? Infinity;
  }

  /** Current dynamic table size in bytes (for tests and stats). */
  get tableSize(): number {
    return this.#table.size;
  }

  /** Total number of entries ever inserted. */
  get insertCount(): number {
    return this.#table.insertCount;
  }

  /**
   * Applies encoder-stream bytes (RFC 9204 §4.3). Instructions may be split
   * across calls. Throws H3ConnectionError(QPACK_ENCODER_STREAM_ERROR) on bad input.
   */
  feedEncoderStream(chunk: Uint8Array): void {
    let data = chunk;
    if (this.#pendingEncoderBytes) {
      data = new Uint8Array(this.#pendingEncoderBytes.length + chunk.length);
      data.set(this.#pendingEncoderBytes);
      data.set(chunk, this.#pendingEncoderBytes.length);
      this.#pendingEncoderBytes = null;
    }
    const cursor = this.#cursor.reset(data);
    try {
      while (cursor.pos < cursor.end) {
        const start = cursor.pos;
        if (!this.#applyEncoderInstruction(cursor)) {
          this.#pendingEncoderBytes = data.slice(start);
          break;
        }
      }
    } catch (error) {
      if (!(error instanceof QpackFormatError)) throw error;
      throw new H3ConnectionError(H3_ERROR.QPACK_ENCODER_STREAM_ERROR, error.message);
    }
  }

  /** Applies one instruction; returns false (consuming nothing) when it is incomplete. */
  #applyEncoderInstruction(cursor: ByteCursor): boolean {
    const start = cursor.pos;
    const first = cursor.buf[start];
    const table = this.#table;
    // Strings can be at most as large as the table could ever hold.
    const maxString = table.maxCapacity;
    if (first & 0x80) {
      // Insert with name reference: 1 T index(6), value(H, 7).
      const isStatic = (first & 0x40) !== 0;
      const index = readPrefixInt(cursor, 6);
      if (index < 0) return false;
      const value = readStringLiteral(cursor, 7, maxString);
      if (value === null) return rewind(cursor, start);
      const name = isStatic ? staticEntry(index)[0] : table.name(table.insertCount - 1 - index);
      table.insert(name, value);
    } else if (first & 0x40) {
      // Insert with literal name: 01 H len(5) name, value(H, 7).
      const name = readStringLiteral(cursor, 5, maxString);
      if (name === null) return false;
      const value = readStringLiteral(cursor, 7, maxString);
      if (value === null) return rewind(cursor, start);
      table.insert(name, value);
    } else if (first & 0x20) {
      // Set dynamic table capacity: 001 capacity(5).
      const capacity = readPrefixInt(cursor, 5);
      if (capacity < 0) return false;
      table.setCapacity(capacity);
    } else {
      // Duplicate: 000 index(5).
      const index = readPrefixInt(cursor, 5);
      if (index < 0) return false;
      const absolute = table.insertCount - 1 - index;
      table.insert(table.name(absolute), table.value(absolute));
    }
    return true;
  }

  /**
   * Decodes one encoded field section (a HEADERS frame payload) into a flat
   * list `[name0, value0, name1, value1, ...]`. Throws
   * H3ConnectionError(QPACK_DECOMPRESSION_FAILED) for invalid input and
   * FieldSectionTooLargeError when the decoded section exceeds the limit.
   */
  decodeFieldSection(block: Uint8Array, streamId: number): string[] {
    const cursor = this.#cursor.reset(block);
    try {
      const requiredInsertCount = this.#readRequiredInsertCount(cursor);
      const first = cursor.buf[cursor.pos];
      const deltaBase = readPrefixInt(cursor, 7);
      if (deltaBase < 0) throw new QpackFormatError("field section prefix is truncated");
      const base = (first & 0x80)
        ? requiredInsertCount - deltaBase - 1
        : requiredInsertCount + deltaBase;
      if (base < 0) throw new QpackFormatError("negative Base");
      const fields = this.#readFieldLines(cursor, requiredInsertCount, base);
      if (requiredInsertCount > 0) {
        // Section Acknowledgment: 1 streamId(7).
        this.#instructions.prefixInt(0x80, 7, streamId);
        if (requiredInsertCount > this.#knownReceivedCount) {
          this.#knownReceivedCount = requiredInsertCount;
        }
      }
      return fields;
    } catch (error) {
      if (!(error instanceof QpackFormatError)) throw error;
      // A field line's string is bounded by the section limit: one longer
      // (Huffman-coded, a long :path can fit the HEADERS frame and still
      // decode past it) makes the section too large, 431 on its stream as
      // HTTP/2 answers, not a broken connection failing every other stream.
      if (error instanceof QpackStringTooLongError) {
        throw new FieldSectionTooLargeError(this.#maxFieldSectionSize);
      }
      throw new H3ConnectionError(H3_ERROR.QPACK_DECOMPRESSION_FAILED, error.message);
    }
  }

  /** Decodes the Required Insert Count (RFC 9204 §4.5.1.1). */
  #readRequiredInsertCount(cursor: ByteCursor): number {
    const encoded = readPrefixInt(cursor, 8);
    if (encoded < 0) throw new QpackFormatError("field section prefix is truncated");
    if (encoded === 0) return 0;
    const maxEntries = Math.floor(this.#table.maxCapacity / ENTRY_OVERHEAD);
    const fullRange = 2 * maxEntries;
    if (encoded > fullRange) {
      throw new QpackFormatError(`encoded Required Insert Count ${encoded} is out of range`);
    }
    const maxValue = this.#table.insertCount + maxEntries;
    const maxWrapped = Math.floor(maxValue / fullRange) * fullRange;
    let required = maxWrapped + encoded - 1;
    if (required > maxValue) {
      if (required <= fullRange) {
        throw new QpackFormatError(`Required Insert Count ${required} is invalid`);
      }
      required -= fullRange;
    }
    if (required === 0) throw new QpackFormatError("Required Insert Count decodes to 0");
    if (required > this.#table.insertCount) {
      // We advertise 0 blocked streams, so the encoder may not make us wait.
      throw new QpackFormatError(
        `field section needs ${required} inserts, only ${this.#table.insertCount} received`,
      );
    }
    return required;
  }

  #readFieldLines(cursor: ByteCursor, requiredInsertCount: number, base: number): string[] {
    const fields: string[] = [];
    const limit = this.#maxFieldSectionSize;
    const table = this.#table;
    let size = 0;
    while (cursor.pos < cursor.end) {
      const first = cursor.buf[cursor.pos];
      let name: string;
      let value: string | null;
      if (first & 0x80) {
        // Indexed field line: 1 T index(6).
        const index = mustRead(readPrefixInt(cursor, 6));
        if (first & 0x40) {
          [name, value] = staticEntry(index);
        } else {
          const absolute = dynamicIndex(base - 1 - index, requiredInsertCount);
          name = table.name(absolute);
          value = table.value(absolute);
        }
      } else if (first & 0x40) {
        // Literal with name reference: 01 N T index(4), value(H, 7).
        const index = mustRead(readPrefixInt(cursor, 4));
        name = (first & 0x10)
          ? staticEntry(index)[0]
          : table.name(dynamicIndex(base - 1 - index, requiredInsertCount));
        value = readStringLiteral(cursor, 7, limit);
      } else if (first & 0x20) {
        // Literal with literal name: 001 N H len(3), value(H, 7).
        const literalName = readStringLiteral(cursor, 3, limit);
        if (literalName === null) throw truncated();
        name = literalName;
        value = readStringLiteral(cursor, 7, limit);
      } else if (first & 0x10) {
        // Indexed field line with post-base index: 0001 index(4).
        const absolute = dynamicIndex(
          base + mustRead(readPrefixInt(cursor, 4)),
          requiredInsertCount,
        );
        name = table.name(absolute);
        value = table.value(absolute);
      } else {
        // Literal with post-base name reference: 0000 N index(3), value(H, 7).
        const absolute = dynamicIndex(
          base + mustRead(readPrefixInt(cursor, 3)),
          requiredInsertCount,
        );
        name = table.name(absolute);
        value = readStringLiteral(cursor, 7, limit);
      }
      if (value === null) throw truncated();
      size += name.length + value.length + ENTRY_OVERHEAD;
      if (size > limit) throw new FieldSectionTooLargeError(limit);
      fields.push(name, value);
    }
    return fields;
  }

  /**
   * Records that a request stream was abandoned before its field section was
   * decoded, so the peer can release references (Stream Cancellation). Only
   * meaningful when a dynamic table is in use.
   */
  cancelStream(streamId: number): void {
    if (this.#table.maxCapacity > 0) this.#instructions.prefixInt(0x40, 6, streamId);
  }

  /**
   * Decoder-stream bytes to send now (Section Acknowledgments, Stream
   * Cancellations and an Insert Count Increment for inserts the peer does
   * not know we have), or null when there is nothing to say.
   */
  takeDecoderStreamBytes(): Uint8Array | null {
    const increment = this.#table.insertCount - this.#knownReceivedCount;
    if (increment > 0) {
      this.#instructions.prefixInt(0x00, 6, increment);
      this.#knownReceivedCount = this.#table.insertCount;
    }
    if (this.#instructions.length === 0) return null;
    const bytes = this.#instructions.toBytes();
    this.#instructions.clear();
    return bytes;
  }
}

function staticEntry(index: number): readonly [string, string] {
  const entry = STATIC_TABLE[index];
  if (!entry) throw new QpackFormatError(`static table has no entry ${index}`);
  return entry;
}

/** A dynamic reference must point below the section's Required Insert Count. */
function dynamicIndex(absolute: number, requiredInsertCount: number): number {
  if (absolute >= requiredInsertCount) {
    throw new QpackFormatError(
      `reference to absolute index ${absolute} beyond Required Insert Count ${requiredInsertCount}`,
    );
  }
  return absolute;
}

function mustRead(value: number): number {
  if (value < 0) throw truncated();
  return value;
}

function truncated(): QpackFormatError {
  return new QpackFormatError("field line is truncated");
}

function rewind(cursor: ByteCursor, start: number): false {
  cursor.pos = start;
  return false;
}
