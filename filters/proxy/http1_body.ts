/**
 * Response body framing: Content-Length, chunked, and read-until-close.
 *
 * Each reader has a synchronous side (`readBuffered`, `settle`) that works on
 * bytes already received, so a small response that arrived with its head is
 * complete without another socket read, and an asynchronous `read` that goes
 * to the socket when the buffer runs dry.
 *
 * @module
 */

import { concatBytes } from "../concat_bytes.ts";
import { findLineEnd, parseChunkSize } from "./http1_parser.ts";
import type { Bytes, Http1Connection } from "./http1_connection.ts";
import { UpstreamError } from "./upstream_error.ts";

/** Longest chunk-size line accepted (size plus extensions). */
const MAX_CHUNK_LINE = 4096;
/** Decodes bad chunk lines for error messages. */
const decoder = new TextDecoder();

/** Decodes one response body from a connection. */
export interface BodyReader {
  /** Whether the whole body, including any framing after it, has been consumed. */
  readonly done: boolean;
  /** The next body bytes already received, or null when none are (see `done`). */
  readBuffered(): Bytes | null;
  /** Consumes framing bytes already received, so `done` turns true as early as possible. */
  settle(): void;
  /** The next body bytes, reading the socket as needed; null once the body is complete. */
  read(): Promise<Bytes | null>;
}

/** Who sends the body a reader decodes, as its error messages name them. */
export type BodySender = "upstream" | "client";

/** The error for a body of `length` declared bytes that ended after `received`. */
export function bodyTruncated(sender: BodySender, received: number, length: number): UpstreamError {
  return truncated(sender, `after ${received} of ${length} body bytes`);
}

function truncated(sender: BodySender, what: string): UpstreamError {
  const who = sender === "client" ? "Client" : "Upstream";
  return new UpstreamError("closed", `${who} closed the connection ${what}`);
}

/** A body of a declared length. */
export class ContentLengthReader implements BodyReader {
  readonly #conn: Http1Connection;
  readonly #sender: BodySender;
  readonly #length: number;
  #remaining: number;

  /** Reads `length` bytes from `conn`. */
  constructor(conn: Http1Connection, length: number, sender: BodySender = "upstream") {
    this.#conn = conn;
    this.#sender = sender;
    this.#length = length;
    this.#remaining = length;
  }

  /** Whether all declared bytes have been read. */
  get done(): boolean {
    return this.#remaining === 0;
  }

  /** Declared bytes not read yet. */
  get remaining(): number {
    return this.#remaining;
  }

  /** See {@linkcode BodyReader.readBuffered}. */
  readBuffered(): Bytes | null {
    if (this.#remaining === 0 || this.#conn.start === this.#conn.end) return null;
    const chunk = this.#conn.take(this.#remaining);
    this.#remaining -= chunk.length;
    return chunk;
  }

  /** Nothing follows a Content-Length body. */
  settle(): void {}

  /** See {@linkcode BodyReader.read}. */
  async read(): Promise<Bytes | null> {
    const buffered = this.readBuffered();
    if (buffered !== null || this.#remaining === 0) return buffered;
    const chunk = await this.#conn.readBody(this.#remaining);
    if (chunk === null) {
      throw bodyTruncated(this.#sender, this.#length - this.#remaining, this.#length);
    }
    this.#remaining -= chunk.length;
    return chunk;
  }
}

/** A body that runs until the server closes the connection. */
export class UntilCloseReader implements BodyReader {
  readonly #conn: Http1Connection;
  #done = false;

  /** Reads `conn` to its end. */
  constructor(conn: Http1Connection) {
    this.#conn = conn;
  }

  /** Whether the server has closed the connection. */
  get done(): boolean {
    return this.#done;
  }

  /** See {@linkcode BodyReader.readBuffered}. */
  readBuffered(): Bytes | null {
    const conn = this.#conn;
    return conn.start === conn.end ? null : conn.take(conn.end - conn.start);
  }

  /** The end is only known from the socket. */
  settle(): void {}

  /** See {@linkcode BodyReader.read}. */
  async read(): Promise<Bytes | null> {
    const buffered = this.readBuffered();
    if (buffered !== null || this.#done) return buffered;
    const chunk = await this.#conn.readBody(64 * 1024);
    if (chunk === null) this.#done = true;
    return chunk;
  }
}

const SIZE = 0;
const DATA = 1;
const DATA_END = 2;
const TRAILER = 3;
const DONE = 4;

/**
 * A chunked body; chunk extensions and trailers are read and dropped. An
 * upstream may end its lines with a bare LF; a client may not (RFC 9112
 * section 7.1 has CRLF only, as Go's server now insists): a proxy in front
 * that reads "2;x\nhi" as one longer line would frame the body otherwise
 * than this side, and the rest of it would be served as a request of its own.
 */
export class ChunkedReader implements BodyReader {
  readonly #conn: Http1Connection;
  readonly #sender: BodySender;
  /** Whether a line must end with CRLF (the client's body). */
  readonly #strict: boolean;
  readonly #maxTrailerBytes: number;
  #state = SIZE;
  #remaining = 0;
  #trailerBytes = 0;

  /** Reads a chunked body from `conn`, allowing up to `maxTrailerBytes` of trailers. */
  constructor(conn: Http1Connection, maxTrailerBytes: number, sender: BodySender = "upstream") {
    this.#conn = conn;
    this.#sender = sender;
    this.#strict = sender === "client";
    this.#maxTrailerBytes = maxTrailerBytes;
  }

  /** Whether the last chunk and the trailers have been read. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * See {@linkcode BodyReader.readBuffered}. The data of several chunks
   * already received comes as one piece: a body sent in tiny chunks costs
   * its reader (and the write onward) one piece per socket read, not one
   * per chunk.
   */
  readBuffered(): Bytes | null {
    const first = this.#viewData();
    if (first === null) return null;
    let next = this.#viewData();
    // A copy: the views are of the connection's buffer, which the next read refills.
    if (next === null) return first.slice();
    const parts = [first];
    let size = first.length;
    do {
      parts.push(next);
      size += next.length;
      next = this.#viewData();
    } while (next !== null);
    return concatBytes(parts, size);
  }

  /**
   * A view of the received data of the current chunk (past any framing
   * before it), consumed; null if none. Valid until the connection reads.
   */
  #viewData(): Uint8Array | null {
    this.settle();
    const conn = this.#conn;
    const start = conn.start;
    if (this.#state !== DATA || start === conn.end) return null;
    const n = Math.min(this.#remaining, conn.end - start);
    conn.start = start + n;
    this.#remaining -= n;
    if (this.#remaining === 0) {
      this.#state = DATA_END;
      this.settle();
    }
    return conn.buf.subarray(start, start + n);
  }

  /** Walks chunk framing (CRLF, size lines, trailers) in the received bytes. */
  settle(): void {
    const conn = this.#conn;
    const buf = conn.buf;
    for (;;) {
      const state = this.#state;
      if (state === DATA || state === DONE) return;
      const start = conn.start;
      const end = conn.end;
      if (state === DATA_END) {
        if (start === end) return;
        if (buf[start] === 10 && !this.#strict) {
          conn.start = start + 1;
        } else if (buf[start] === 13) {
          if (start + 1 === end) return;
          if (buf[start + 1] !== 10) {
            throw chunkError(this.#sender, "missing CRLF after chunk data");
          }
          conn.start = start + 2;
        } else {
          throw chunkError(this.#sender, "missing CRLF after chunk data");
        }
        this.#state = SIZE;
        continue;
      }
      const lf = findLineEnd(buf, start, end);
      if (state === SIZE) {
        if (lf === -1) {
          if (end - start > MAX_CHUNK_LINE) {
            throw chunkError(this.#sender, "chunk size line too long");
          }
          return;
        }
        const size = parseChunkSize(buf, start, lf);
        if (size < 0 || lf - start > MAX_CHUNK_LINE || (this.#strict && buf[lf - 1] !== 13)) {
          const lineEnd = buf[lf - 1] === 13 ? lf - 1 : lf;
          const line = decoder.decode(buf.subarray(start, Math.min(lineEnd, start + 32)));
          throw chunkError(this.#sender, `invalid chunk size line ${JSON.stringify(line)}`);
        }
        conn.start = lf + 1;
        if (size === 0) {
          this.#state = TRAILER;
        } else {
          this.#remaining = size;
          this.#state = DATA;
        }
        continue;
      }
      // TRAILER: skip lines until the empty one.
      if (lf === -1) {
        if (this.#trailerBytes + end - start > this.#maxTrailerBytes) {
          throw chunkError(this.#sender, `trailers larger than ${this.#maxTrailerBytes} bytes`);
        }
        return;
      }
      if (this.#strict && (lf === start || buf[lf - 1] !== 13)) {
        throw chunkError(this.#sender, "trailer line not ended by CRLF");
      }
      conn.start = lf + 1;
      if (lf === start || (lf === start + 1 && buf[start] === 13)) {
        this.#state = DONE;
        return;
      }
      this.#trailerBytes += lf + 1 - start;
      if (this.#trailerBytes > this.#maxTrailerBytes) {
        throw chunkError(this.#sender, `trailers larger than ${this.#maxTrailerBytes} bytes`);
      }
    }
  }

  /** See {@linkcode BodyReader.read}. */
  async read(): Promise<Bytes | null> {
    const conn = this.#conn;
    for (;;) {
      const buffered = this.readBuffered();
      if (buffered !== null) return buffered;
      if (this.#state === DONE) return null;
      if (this.#state === DATA) {
        const chunk = await conn.readBody(this.#remaining);
        if (chunk === null) throw truncated(this.#sender, "in the middle of a chunk");
        this.#remaining -= chunk.length;
        if (this.#remaining === 0) {
          this.#state = DATA_END;
          this.settle();
        }
        return chunk;
      }
      if (!(await conn.fill())) throw truncated(this.#sender, "in the middle of chunked framing");
    }
  }
}

function chunkError(sender: BodySender, message: string): UpstreamError {
  const what = sender === "client" ? "request body" : "upstream response";
  return new UpstreamError("protocol", `Invalid ${what}: ${message}`);
}
