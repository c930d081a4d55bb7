/**
 * HTTP/2 wire constants (RFC 9113): frame types, flags, error codes and
 * settings, the frame header, and the two kinds of protocol error.
 *
 * @module
 */

/** Frame types (RFC 9113 section 6). */
export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags; ACK shares END_STREAM's bit on SETTINGS and PING. */
export const FLAG = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** Error codes (RFC 9113 section 7). */
export const H2_ERROR = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** Setting identifiers (RFC 9113 section 6.5.2). */
export const SETTING = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** Size of every frame's header. */
export const FRAME_HEADER_SIZE = 9;
/** SETTINGS_MAX_FRAME_SIZE before (and unless) a peer raises it. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** Largest SETTINGS_MAX_FRAME_SIZE a peer may announce. */
export const MAX_FRAME_SIZE_LIMIT = 16_777_215;
/** Flow-control windows start here (RFC 9113 section 6.9.2). */
export const DEFAULT_WINDOW = 65_535;
/** Largest flow-control window. */
export const MAX_WINDOW = 2 ** 31 - 1;
/** What every client connection opens with. */
export const CLIENT_PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Writes a frame header at `buf[at, at + 9)`. */
export function writeFrameHeader(
  buf: Uint8Array,
  at: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  buf[at] = length >>> 16;
  buf[at + 1] = (length >>> 8) & 0xff;
  buf[at + 2] = length & 0xff;
  buf[at + 3] = type;
  buf[at + 4] = flags;
  buf[at + 5] = (streamId >>> 24) & 0x7f;
  buf[at + 6] = (streamId >>> 16) & 0xff;
  buf[at + 7] = (streamId >>> 8) & 0xff;
  buf[at + 8] = streamId & 0xff;
}

/** The payload length of the frame whose header starts at `buf[at]` (24 bits). */
export function readFrameLength(buf: Uint8Array, at: number): number {
  return (buf[at] << 16) | (buf[at + 1] << 8) | buf[at + 2];
}

/** A 31-bit value at `buf[at]`, the reserved top bit dropped. */
export function readUint31(buf: Uint8Array, at: number): number {
  return ((buf[at] & 0x7f) * 0x1000000) + (buf[at + 1] << 16) + (buf[at + 2] << 8) + buf[at + 3];
}

/** A 32-bit value at `buf[at]`. */
export function readUint32(buf: Uint8Array, at: number): number {
  return (buf[at] * 0x1000000) + (buf[at + 1] << 16) + (buf[at + 2] << 8) + buf[at + 3];
}

/** A protocol error with the RFC 9113 code to send. */
export class H2Error extends Error {
  /** The error code sent in GOAWAY or RST_STREAM. */
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An error that ends the whole connection with GOAWAY. */
export class H2ConnectionError extends H2Error {}

/** An error that ends one stream with RST_STREAM. */
export class H2StreamError extends H2Error {}
