/**
 * Message sizes of one direction of a WebSocket relay, read off the frame
 * headers (RFC 6455 section 5.2) as the bytes pass: payloads are skipped,
 * never copied or unmasked. A message is a data frame and its
 * continuations up to the one with FIN; control frames in between do not
 * count.
 *
 * @module
 */

/** Longest frame header: 2 bytes, a 64-bit length, a masking key. */
const MAX_HEADER = 14;

/** Tracks frames in a byte stream and finds the one that makes a message too long. */
export class FrameLimit {
  /** Largest message allowed, in payload bytes (Infinity: none). */
  readonly #limit: number;
  readonly #header = new Uint8Array(MAX_HEADER);
  /** Header bytes received of the frame under way (0 between frames). */
  #have = 0;
  /** Header bytes the frame under way has, once its second byte is in. */
  #need = 2;
  /** Payload bytes of the current frame still to pass. */
  #remaining = 0;
  /** Payload bytes of the message under way, its frames so far. */
  #message = 0;
  /**
   * Whether the header of the frame {@linkcode scan} last found too long
   * began in earlier bytes (so part of it has gone on already).
   */
  splitHeader = false;

  /** `limit` is the largest message in bytes; -1 for no limit (frames are still tracked). */
  constructor(limit: number) {
    this.#limit = limit < 0 ? Infinity : limit;
  }

  /** Whether the bytes so far end where a frame ends (a frame may be written in here). */
  get atBoundary(): boolean {
    return this.#have === 0 && this.#remaining === 0;
  }

  /**
   * Takes `bytes`, the next of the stream. Returns -1 when no message has
   * gone past the limit; else where the header of the frame that takes it
   * past starts in `bytes` (0 when that header began in earlier bytes).
   */
  scan(bytes: Uint8Array): number {
    const header = this.#header;
    const end = bytes.length;
    let i = 0;
    let frameStart = 0;
    let split = this.#have > 0;
    while (i < end) {
      const remaining = this.#remaining;
      if (remaining > 0) {
        const n = Math.min(remaining, end - i);
        this.#remaining = remaining - n;
        i += n;
        continue;
      }
      if (this.#have === 0) {
        frameStart = i;
        split = false;
      }
      header[this.#have++] = bytes[i++];
      if (this.#have === 2) {
        const length7 = header[1] & 0x7f;
        this.#need = 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) +
          (header[1] & 0x80 ? 4 : 0);
      }
      if (this.#have < 2 || this.#have < this.#need) continue;
      this.#have = 0;
      const length = payloadLength(header);
      this.#remaining = length;
      const opcode = header[0] & 0x0f;
      // Control frames (close, ping, pong) may come between a message's frames.
      if (opcode >= 8) continue;
      this.#message = opcode === 0 ? this.#message + length : length;
      if (this.#message > this.#limit) {
        this.splitHeader = split;
        return frameStart;
      }
      if (header[0] & 0x80) this.#message = 0;
    }
    return -1;
  }
}

/** The payload length a whole frame header states. */
function payloadLength(header: Uint8Array): number {
  const length7 = header[1] & 0x7f;
  if (length7 < 126) return length7;
  if (length7 === 126) return (header[2] << 8) | header[3];
  let length = 0;
  for (let i = 2; i < 10; i++) length = length * 256 + header[i];
  return length;
}

/**
 * A close frame with `code` (RFC 6455 section 5.5.1): masked (with a zero
 * key, which leaves the payload as is) when it goes to a server.
 */
export function closeFrame(code: number, masked: boolean): Uint8Array {
  return masked
    ? new Uint8Array([0x88, 0x82, 0, 0, 0, 0, code >> 8, code & 0xff])
    : new Uint8Array([0x88, 0x02, code >> 8, code & 0xff]);
}

/** Close code: a message too big to process (RFC 6455 section 7.4.1). */
export const MESSAGE_TOO_BIG = 1009;
/** Close code: the endpoint is going away. */
export const GOING_AWAY = 1001;
