/**
 * One upstream socket with its read and write buffers.
 *
 * Reads go into a buffer the connection owns, so heads and chunk framing are
 * parsed in place; bodies are copied out of it, or, for large bodies, read
 * straight into a fresh array that is handed to the consumer without a copy.
 * While the connection is idle in a pool it keeps one read pending: that read
 * notices the server closing the socket, and becomes the first read of the
 * next response when the connection is reused.
 *
 * @module
 */

import { type ReadCount, readSocket, refRead, type Socket, unrefRead } from "./socket_read.ts";
import { writeAll } from "../write_all.ts";

/** Bytes backed by a plain ArrayBuffer (what `Response` and `Blob` accept). */
export type Bytes = Uint8Array<ArrayBuffer>;

/** The connection is carrying a request. */
export const ACTIVE = 0;
/** The connection is parked in a pool, watching for the server closing it. */
export const IDLE = 1;
/** The socket is closed. */
export const CLOSED = 2;

/** Initial read buffer size: room for any ordinary response head plus a small body. */
const READ_BUFFER_SIZE = 16 * 1024;
/** Size of arrays that large body reads go into directly. */
const DIRECT_READ_SIZE = 64 * 1024;
/** Below this many wanted bytes, read through the buffer instead. */
const DIRECT_READ_MIN = 8 * 1024;
/** Write buffers up to this size are kept for the next request. */
const KEPT_WRITE_BUFFER_SIZE = 32 * 1024;
/** Chunks up to this size are framed in one write. */
const COALESCE_CHUNK_MAX = 16 * 1024;
const CRLF = new Uint8Array([13, 10]);
const encoder = new TextEncoder();

/** A socket with buffered reading, used for one exchange at a time. */
export class Http1Connection {
  /** The underlying TCP or TLS socket. */
  readonly socket: Socket;
  /** Read buffer; unread bytes are `buf[start, end)`. */
  buf: Bytes;
  /** Offset of the first unread byte in `buf`. */
  start = 0;
  /** Offset just past the last received byte in `buf`. */
  end = 0;
  /** {@linkcode ACTIVE}, {@linkcode IDLE} or {@linkcode CLOSED}. */
  state: number = ACTIVE;
  /** When the connection last became idle (`Date.now()`). */
  idleSince = 0;

  readonly #initialSize: number;
  #pendingRead: Promise<ReadCount> | null = null;
  #spare: Bytes | null = null;
  #writeBuffer: Uint8Array | null = null;
  /** Only pooled connections park idle; others keep no closure for it. */
  readonly #onIdleSettled: (() => void) | null = null;

  /**
   * `onIdleEnd`, for pooled connections, is called when an idle connection's
   * pending read ends (EOF, data or error). `bufferSize` is the initial read
   * buffer; it grows as needed.
   */
  constructor(
    socket: Socket,
    onIdleEnd?: (conn: Http1Connection) => void,
    bufferSize = READ_BUFFER_SIZE,
  ) {
    this.socket = socket;
    this.buf = new Uint8Array(bufferSize);
    this.#initialSize = bufferSize;
    if (onIdleEnd !== undefined) {
      this.#onIdleSettled = () => {
        if (this.state === IDLE) onIdleEnd(this);
      };
    }
  }

  /** How many received bytes are still unread. */
  get buffered(): number {
    return this.end - this.start;
  }

  /**
   * Parks the connection: starts the read that watches for the server
   * closing it, and stops that read from keeping the process alive.
   * The caller must have checked that nothing is buffered.
   */
  watchIdle(now: number): void {
    const settled = this.#onIdleSettled;
    if (settled === null) throw new Error("Cannot park a connection made without onIdleEnd");
    this.state = IDLE;
    this.idleSince = now;
    this.start = 0;
    this.end = 0;
    const read = readSocket(this.socket, this.buf);
    this.#pendingRead = read;
    unrefRead(this.socket, read);
    read.then(settled, settled);
  }

  /** Takes the connection out of a pool for a new exchange. */
  activate(): void {
    this.state = ACTIVE;
    refRead(this.socket, this.#pendingRead);
  }

  /**
   * Receives more bytes into the buffer (compacting or growing it when full).
   * Resolves false at end of stream. Callers bound how much they buffer.
   */
  async fill(): Promise<boolean> {
    const pending = this.#pendingRead ?? this.#startRead();
    this.#pendingRead = null;
    return this.#count(await pending);
  }

  /**
   * Takes in the outcome of the read {@linkcode readAhead} started, for a
   * caller that awaited it itself instead of calling {@linkcode fill}
   * (one suspended frame fewer while it waits). False at end of stream.
   */
  received(n: ReadCount): boolean {
    this.#pendingRead = null;
    return this.#count(n);
  }

  #count(n: ReadCount): boolean {
    if (!n) return false;
    this.end += n;
    return true;
  }

  /**
   * Starts a read now (into the free space after `end`) that the next
   * `fill` picks up; bytes already buffered stay readable meanwhile.
   * Resolves with the byte count; 0 or null at end of stream.
   */
  readAhead(): Promise<ReadCount> {
    return this.#pendingRead ??= this.#startRead();
  }

  /** Whether a read is pending that the next `fill` will pick up. */
  get reading(): boolean {
    return this.#pendingRead !== null;
  }

  #startRead(): Promise<ReadCount> {
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    } else if (this.buf.length - this.end < this.buf.length >> 2) {
      if (this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      }
      if (this.end === this.buf.length) {
        const grown = new Uint8Array(this.buf.length * 2);
        grown.set(this.buf.subarray(0, this.end));
        this.buf = grown;
      }
    }
    // An empty buffer is read into whole: no view to allocate.
    return readSocket(this.socket, this.end === 0 ? this.buf : this.buf.subarray(this.end));
  }

  /** Copies out and consumes up to `max` buffered bytes. */
  take(max: number): Bytes {
    const n = Math.min(max, this.end - this.start);
    const out = this.buf.slice(this.start, this.start + n);
    this.start += n;
    return out;
  }

  /**
   * Receives at most `max` body bytes when nothing is buffered; null at end
   * of stream. Large reads go into an array given to the caller, so big
   * bodies are not copied; small ones go through the buffer.
   */
  async readBody(max: number): Promise<Bytes | null> {
    if (max < DIRECT_READ_MIN || this.#pendingRead !== null || this.start !== this.end) {
      if (this.start === this.end && !(await this.fill())) return null;
      return this.take(max);
    }
    const spare = this.#spare ?? new Uint8Array(DIRECT_READ_SIZE);
    this.#spare = spare;
    const n = await readSocket(this.socket, max < spare.length ? spare.subarray(0, max) : spare);
    if (!n) return null;
    // A mostly full array is handed over as is; a short read is copied so the
    // consumer does not pin 64 KiB for a few bytes.
    if (n * 2 >= spare.length) {
      this.#spare = null;
      return spare.subarray(0, n);
    }
    return spare.slice(0, n);
  }

  /**
   * Fills `target` from the start with the next bytes (buffered ones first,
   * then straight from the socket, without a copy); 0 or null at end of stream.
   */
  async readInto(target: Uint8Array): Promise<ReadCount> {
    if (this.#pendingRead === null && this.start === this.end) {
      return await readSocket(this.socket, target);
    }
    if (this.start === this.end && !(await this.fill())) return null;
    const n = Math.min(target.length, this.end - this.start);
    target.set(this.buf.subarray(this.start, this.start + n));
    this.start += n;
    return n;
  }

  /**
   * A scratch array of at least `size` bytes for composing one write. Only
   * valid until the next call; the caller must await its write first.
   */
  writeBuffer(size: number): Uint8Array {
    const kept = this.#writeBuffer;
    if (kept !== null && kept.length >= size) return kept;
    const fresh = new Uint8Array(Math.max(size, 4096));
    if (fresh.length <= KEPT_WRITE_BUFFER_SIZE) this.#writeBuffer = fresh;
    return fresh;
  }

  /** Writes all of `bytes`. */
  async write(bytes: Uint8Array): Promise<void> {
    const written = await this.socket.write(bytes);
    if (written < bytes.length) await this.writeRest(bytes, written);
  }

  /**
   * Finishes a write of which the socket took only `written` bytes. Hot
   * paths await `socket.write` themselves and call this on a short write,
   * which saves the promise and frame of {@linkcode write} per message.
   */
  writeRest(bytes: Uint8Array, written: number): Promise<void> {
    return writeAll(this.socket, bytes, written);
  }

  /**
   * Lets go of memory a connection only needs while busy (a grown read
   * buffer, the scratch write buffer, the spare body array), so a
   * connection waiting idle costs little. Only while no read is pending.
   */
  trim(): void {
    if (this.#pendingRead !== null) return;
    this.#spare = null;
    this.#writeBuffer = null;
    if (this.start === this.end && this.buf.length > this.#initialSize) {
      this.buf = new Uint8Array(this.#initialSize);
      this.start = 0;
      this.end = 0;
    }
  }

  /** Writes one chunk of a chunked body, framing and data in one write when small. */
  async writeChunk(chunk: Uint8Array): Promise<void> {
    const sizeLine = chunk.length.toString(16) + "\r\n";
    if (chunk.length > COALESCE_CHUNK_MAX) {
      await this.write(encoder.encode(sizeLine));
      await this.write(chunk);
      await this.write(CRLF);
      return;
    }
    const buf = this.writeBuffer(sizeLine.length + chunk.length + 2);
    let n = encoder.encodeInto(sizeLine, buf).written;
    buf.set(chunk, n);
    n += chunk.length;
    buf[n++] = 13;
    buf[n++] = 10;
    await this.write(buf.subarray(0, n));
  }

  /** Closes the socket (idempotent); a pending read or write then fails. */
  close(): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    try {
      this.socket.close();
    } catch {
      // Already closed by the runtime: nothing left to release.
    }
  }
}
