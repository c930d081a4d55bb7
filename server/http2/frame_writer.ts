/**
 * The sending side of an HTTP/2 connection: frames are appended to one
 * buffer and written together, in one socket write per turn whatever the
 * number of streams that answered in it. While a write is in flight, new
 * frames go into a second buffer, written when the first is done.
 *
 * @module
 */

import { FRAME, FRAME_HEADER_SIZE, writeFrameHeader } from "./frames.ts";

/**
 * Size the buffers start at, and return to when trimmed: a connection
 * that is idle keeps little. They grow as a burst needs.
 */
export const IDLE_BUFFER_SIZE = 1024;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** A clock that never moves: nothing is ever late by it. */
const NO_CLOCK = { now: 0 };

/** Frames on their way to one socket. */
export class FrameWriter {
  /** Frames not yet written; payloads go at the offsets {@linkcode frame} returns. */
  buf: Uint8Array = new Uint8Array(IDLE_BUFFER_SIZE);
  /** Bytes in {@linkcode buf}. */
  length = 0;
  /**
   * Coarse time (the clock's) the socket write in flight began, 0 when none
   * is: a write that lasts is a client that stopped reading.
   */
  writingSince = 0;
  readonly #socket: Deno.Conn;
  /** Called once when a write fails (the peer is gone). */
  readonly #onFailure: () => void;
  readonly #clock: { readonly now: number };
  /** The buffer a write in flight owns. */
  #spare: Uint8Array = EMPTY;
  #inFlight = 0;
  #writing = false;
  #queued = false;
  #closed = false;
  #waiters: (() => void)[] = [];
  readonly #flushTask = (): void => {
    this.#queued = false;
    this.#flush();
  };

  /** `clock.now` stamps {@linkcode writingSince}. */
  constructor(
    socket: Deno.Conn,
    onFailure: () => void,
    clock: { readonly now: number } = NO_CLOCK,
  ) {
    this.#socket = socket;
    this.#onFailure = onFailure;
    this.#clock = clock;
  }

  /** Bytes queued or being written. */
  get pending(): number {
    return this.length + this.#inFlight;
  }

  /** Appends a frame header for a `length`-byte payload; returns where the payload goes. */
  frame(type: number, flags: number, streamId: number, length: number): number {
    const needed = this.length + FRAME_HEADER_SIZE + length;
    if (needed > this.buf.length) {
      const grown = new Uint8Array(Math.max(needed, this.buf.length * 2));
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    writeFrameHeader(this.buf, this.length, length, type, flags, streamId);
    const payload = this.length + FRAME_HEADER_SIZE;
    this.length = payload + length;
    return payload;
  }

  /** Appends a frame whose payload is `bytes`. */
  bytesFrame(type: number, flags: number, streamId: number, bytes: Uint8Array): void {
    const payload = this.frame(type, flags, streamId, bytes.length);
    this.buf.set(bytes, payload);
  }

  /** Appends a frame whose payload is one 32-bit value (RST_STREAM, WINDOW_UPDATE). */
  uint32Frame(type: number, streamId: number, value: number): void {
    // The frame first: it may replace the buffer.
    const payload = this.frame(type, 0, streamId, 4);
    writeUint32(this.buf, payload, value);
  }

  /** Appends a SETTINGS frame with `settings` as [id, value] pairs. */
  settings(settings: readonly (readonly [number, number])[]): void {
    const payload = this.frame(FRAME.SETTINGS, 0, 0, settings.length * 6);
    const buf = this.buf;
    for (let i = 0; i < settings.length; i++) {
      const [id, value] = settings[i];
      const at = payload + i * 6;
      buf[at] = id >>> 8;
      buf[at + 1] = id & 0xff;
      writeUint32(buf, at + 2, value);
    }
  }

  /** Appends GOAWAY naming the last stream served, an error code and a message. */
  goAway(lastStreamId: number, code: number, message: string): void {
    const debug = encoder.encode(message.slice(0, 256));
    const payload = this.frame(FRAME.GOAWAY, 0, 0, 8 + debug.length);
    writeUint32(this.buf, payload, lastStreamId);
    writeUint32(this.buf, payload + 4, code);
    this.buf.set(debug, payload + 8);
  }

  /** Writes what is queued at the end of this turn (with whatever else is queued by then). */
  schedule(): void {
    if (this.#queued || this.#writing || this.length === 0 || this.#closed) return;
    this.#queued = true;
    queueMicrotask(this.#flushTask);
  }

  /** Whether anything is queued, scheduled or being written. */
  get busy(): boolean {
    return this.#writing || this.#queued || this.length > 0;
  }

  /** Resolves once nothing is left to write (or the writer is closed). */
  drained(): Promise<void> {
    if (this.#closed || !this.busy) return Promise.resolve();
    this.schedule();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Gives back buffers a burst grew, when nothing is left to write. */
  trim(): void {
    if (this.busy) return;
    if (this.buf.length > IDLE_BUFFER_SIZE) this.buf = new Uint8Array(IDLE_BUFFER_SIZE);
    this.#spare = EMPTY;
  }

  /** Stops writing; waiters are released. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  async #flush(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.length > 0 && !this.#closed) {
        const data = this.buf;
        const length = this.length;
        this.buf = this.#spare;
        this.length = 0;
        this.#spare = data;
        this.#inFlight = length;
        let written = 0;
        while (written < length) {
          this.writingSince = this.#clock.now;
          written += await this.#socket.write(data.subarray(written, length));
        }
      }
    } catch {
      this.#closed = true;
      this.#onFailure();
    } finally {
      this.writingSince = 0;
      this.#writing = false;
      this.#inFlight = 0;
    }
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

function writeUint32(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value >>> 24;
  buf[at + 1] = (value >>> 16) & 0xff;
  buf[at + 2] = (value >>> 8) & 0xff;
  buf[at + 3] = value & 0xff;
}
