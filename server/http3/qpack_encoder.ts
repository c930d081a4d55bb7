/**
 * The QPACK encoder side (RFC 9204) for responses: static table plus
 * literals, Huffman-coded when shorter, never the dynamic table. It also
 * checks what the peer sends on its decoder stream, which for an encoder
 * that never inserts can only be Stream Cancellations.
 *
 * @module
 */

import { H3_ERROR, H3ConnectionError } from "./errors.ts";
import { FRAME, frameHeaderLength, writeFrameHeader } from "./frames.ts";
import { ByteCursor, ByteWriter, QpackFormatError, readPrefixInt } from "./qpack_primitives.ts";
import { STATIC_BY_NAME } from "./qpack_static_table.ts";

/** Static-table-only QPACK encoder for one connection. */
export class QpackEncoder {
  readonly #out = new ByteWriter(512);
  readonly #cursor = new ByteCursor();
  #pendingDecoderBytes: Uint8Array | null = null;

  /**
   * Encodes a field section from a flat `[name0, value0, name1, value1, ...]`
   * list. Names must already be lowercase (as `Headers` yields them).
   */
  encodeFieldSection(fields: readonly string[]): Uint8Array {
    this.#encode(fields);
    return this.#out.toBytes();
  }

  /**
   * Encodes `fields` as a whole HEADERS frame. The result has `trailingRoom`
   * spare bytes at its end, so a caller can append the first DATA frame and
   * send both in one write.
   */
  encodeHeadersFrame(fields: readonly string[], trailingRoom = 0): Uint8Array {
    this.#encode(fields);
    const length = this.#out.length;
    const headerLength = frameHeaderLength(FRAME.HEADERS, length);
    const frame = new Uint8Array(headerLength + length + trailingRoom);
    writeFrameHeader(frame, 0, FRAME.HEADERS, length);
    this.#out.copyTo(frame, headerLength);
    return frame;
  }

  #encode(fields: readonly string[]): void {
    const out = this.#out;
    out.clear();
    // Required Insert Count 0, Base 0: no dynamic table references.
    out.byte(0);
    out.byte(0);
    for (let i = 0; i < fields.length; i += 2) this.#encodeField(fields[i], fields[i + 1]);
  }

  #encodeField(name: string, value: string): void {
    const out = this.#out;
    const entry = STATIC_BY_NAME.get(name);
    if (entry) {
      const exact = entry.valueIndex.get(value);
      if (exact !== undefined) {
        // Indexed field line, static: 1 1 index(6).
        out.prefixInt(0xc0, 6, exact);
        return;
      }
      // Literal with static name reference: 0 1 N=0 T=1 index(4), value(H, 7).
      out.prefixInt(0x50, 4, entry.nameIndex);
      out.stringLiteral(0x00, 7, 0x80, value);
      return;
    }
    // Literal with literal name: 0 0 1 N=0 H len(3) name, value(H, 7).
    out.stringLiteral(0x20, 3, 0x08, name);
    out.stringLiteral(0x00, 7, 0x80, value);
  }

  /**
   * Checks the peer's decoder-stream bytes (RFC 9204 §4.4). We never insert,
   * so Section Acknowledgments and Insert Count Increments are
   * QPACK_DECODER_STREAM_ERROR; Stream Cancellations are fine.
   */
  feedDecoderStream(chunk: Uint8Array): void {
    let data = chunk;
    if (this.#pendingDecoderBytes) {
      data = new Uint8Array(this.#pendingDecoderBytes.length + chunk.length);
      data.set(this.#pendingDecoderBytes);
      data.set(chunk, this.#pendingDecoderBytes.length);
      this.#pendingDecoderBytes = null;
    }
    const cursor = this.#cursor.reset(data);
    try {
      while (cursor.pos < cursor.end) {
        const start = cursor.pos;
        const first = data[start];
        if (first & 0x80) {
          if (readPrefixInt(cursor, 7) < 0) {
            this.#pendingDecoderBytes = data.slice(start);
            return;
          }
          throw new QpackFormatError(
            "Section Acknowledgment for a section without dynamic references",
          );
        }
        if (first & 0x40) {
          if (readPrefixInt(cursor, 6) < 0) {
            this.#pendingDecoderBytes = data.slice(start);
            return;
          }
          continue; // Stream Cancellation: nothing to release.
        }
        const increment = readPrefixInt(cursor, 6);
        if (increment < 0) {
          this.#pendingDecoderBytes = data.slice(start);
          return;
        }
        throw new QpackFormatError(
          `Insert Count Increment of ${increment}, but the encoder never inserts`,
        );
      }
    } catch (error) {
      if (!(error instanceof QpackFormatError)) throw error;
      throw new H3ConnectionError(H3_ERROR.QPACK_DECODER_STREAM_ERROR, error.message);
    }
  }
}
