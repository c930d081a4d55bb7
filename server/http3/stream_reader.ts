/**
 * Buffered reading of varints, frame headers and payloads from a QUIC
 * receive stream. Data is only pulled from the stream when a caller asks for
 * more, so QUIC flow control pushes back on a peer whose data is not being
 * consumed.
 *
 * @module
 */

import { H3_ERROR, H3ConnectionError } from "./errors.ts";
import { readVarint, varintSizeFromFirstByte } from "./varint.ts";

const EMPTY = new Uint8Array(0);

/**
 * What a read throws once the reader's own {@linkcode StreamReader.cancel}
 * has stopped the stream, including a read that was waiting when it did:
 * the bytes stopped coming because we asked, so this is no protocol error
 * (a peer's FIN inside a frame is H3_FRAME_ERROR).
 */
export class StreamCancelledError extends Error {
  constructor() {
    super("stream reading was stopped (STOP_SENDING)");
    this.name = "StreamCancelledError";
  }
}

/** Reads HTTP/3 framing off one receive stream. */
export class StreamReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunk: Uint8Array = EMPTY;
  #pos = 0;
  #ended = false;
  #cancelled = false;
  /** Type of the frame whose header {@linkcode readFrameHeader} read last. */
  frameType = 0;
  /** Payload length of that frame. */
  frameLength = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Whether the peer has finished the stream and every byte has been consumed. */
  get ended(): boolean {
    return this.#ended && this.#pos >= this.#chunk.length;
  }

  /**
   * Makes at least `needed` bytes available from `#pos`, keeping leftover
   * bytes. Returns false if the stream ends first; throws
   * {@linkcode StreamCancelledError} once {@linkcode cancel} has run, even
   * while this was waiting for data.
   */
  async #fill(needed: number): Promise<boolean> {
    while (this.#chunk.length - this.#pos < needed) {
      if (this.#ended) {
        if (this.#cancelled) throw new StreamCancelledError();
        return false;
      }
      let read: ReadableStreamReadResult<Uint8Array>;
      try {
        read = await this.#reader.read();
      } catch (error) {
        // A read that cancel() made fail is ours, not the peer's doing.
        throw this.#cancelled ? new StreamCancelledError() : error;
      }
      const { value, done } = read;
      if (done) {
        this.#ended = true;
        continue;
      }
      // cancel() ran meanwhile: #ended is set, the next turn throws.
      if (this.#cancelled || value.length === 0) continue;
      const left = this.#chunk.length - this.#pos;
      if (left === 0) {
        this.#chunk = value;
      } else {
        const joined = new Uint8Array(left + value.length);
        joined.set(this.#chunk.subarray(this.#pos));
        joined.set(value, left);
        this.#chunk = joined;
      }
      this.#pos = 0;
    }
    return true;
  }

  /**
   * Reads a varint. Returns -1 if the stream ends cleanly before it starts;
   * throws H3_FRAME_ERROR if it ends in the middle.
   */
  async readVarint(): Promise<number> {
    if (!(await this.#fill(1))) return -1;
    const size = varintSizeFromFirstByte(this.#chunk[this.#pos]);
    if (!(await this.#fill(size))) throw truncated("a varint");
    const value = readVarint(this.#chunk, this.#pos);
    this.#pos += size;
    return value;
  }

  /**
   * Reads a frame header into {@linkcode frameType} and {@linkcode frameLength}.
   * Returns false at a clean end of stream; a stream that ends inside the
   * header is H3_FRAME_ERROR (RFC 9114 §7.1).
   */
  async readFrameHeader(): Promise<boolean> {
    const type = await this.readVarint();
    if (type < 0) return false;
    const length = await this.readVarint();
    if (length < 0) throw truncated("a frame header");
    this.frameType = type;
    this.frameLength = length;
    return true;
  }

  /** Reads exactly `length` bytes; a stream that ends first is H3_FRAME_ERROR. */
  async readExact(length: number): Promise<Uint8Array> {
    if (!(await this.#fill(length))) throw truncated("a frame payload");
    const out = this.#chunk.subarray(this.#pos, this.#pos + length);
    this.#pos += length;
    return out;
  }

  /**
   * Reads between 1 and `max` bytes without copying, as soon as any are
   * available. A stream that ends first is H3_FRAME_ERROR, since callers only
   * ask for bytes a frame header promised.
   */
  async readSome(max: number): Promise<Uint8Array> {
    if (!(await this.#fill(1))) throw truncated("a frame payload");
    const end = Math.min(this.#chunk.length, this.#pos + max);
    const out = this.#chunk.subarray(this.#pos, end);
    this.#pos = end;
    return out;
  }

  /** Reads and drops `length` bytes (payloads of frames we ignore). */
  async skip(length: number): Promise<void> {
    while (length > 0) length -= (await this.readSome(length)).length;
  }

  /**
   * Reads whatever arrives next, or null at the end of the stream. For
   * streams that are not framed (QPACK encoder and decoder streams).
   */
  async readChunk(): Promise<Uint8Array | null> {
    if (!(await this.#fill(1))) return null;
    const out = this.#chunk.subarray(this.#pos);
    this.#pos = this.#chunk.length;
    return out;
  }

  /**
   * Stops reading: the peer is asked to stop sending (STOP_SENDING). Never
   * throws; reads from now on, and one waiting now, throw
   * {@linkcode StreamCancelledError}.
   */
  async cancel(): Promise<void> {
    this.#cancelled = true;
    this.#ended = true;
    this.#chunk = EMPTY;
    this.#pos = 0;
    try {
      await this.#reader.cancel();
    } catch {
      // Already errored or closed: nothing left to stop.
    }
  }
}

function truncated(what: string): H3ConnectionError {
  return new H3ConnectionError(H3_ERROR.FRAME_ERROR, `stream ended inside ${what}`);
}
