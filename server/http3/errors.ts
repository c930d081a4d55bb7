/**
 * HTTP/3 (RFC 9114 §8.1) and QPACK (RFC 9204 §6) error codes, and the two
 * error classes the codec throws: one that must close the whole connection,
 * one that only concerns a single request stream.
 *
 * @module
 */

/** Application error codes carried in CONNECTION_CLOSE / RESET_STREAM / STOP_SENDING. */
export const H3_ERROR = {
  NO_ERROR: 0x100,
  GENERAL_PROTOCOL_ERROR: 0x101,
  INTERNAL_ERROR: 0x102,
  STREAM_CREATION_ERROR: 0x103,
  CLOSED_CRITICAL_STREAM: 0x104,
  FRAME_UNEXPECTED: 0x105,
  FRAME_ERROR: 0x106,
  EXCESSIVE_LOAD: 0x107,
  ID_ERROR: 0x108,
  SETTINGS_ERROR: 0x109,
  MISSING_SETTINGS: 0x10a,
  REQUEST_REJECTED: 0x10b,
  REQUEST_CANCELLED: 0x10c,
  REQUEST_INCOMPLETE: 0x10d,
  MESSAGE_ERROR: 0x10e,
  CONNECT_ERROR: 0x10f,
  VERSION_FALLBACK: 0x110,
  QPACK_DECOMPRESSION_FAILED: 0x200,
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  QPACK_DECODER_STREAM_ERROR: 0x202,
} as const;

const NAMES = new Map<number, string>(
  Object.entries(H3_ERROR).map(([name, code]) => [
    code,
    name.startsWith("QPACK_") ? name : `H3_${name}`,
  ]),
);

/** The RFC name of an error code ("H3_FRAME_ERROR"), or its hex form when unknown. */
export function h3ErrorName(code: number): string {
  return NAMES.get(code) ?? `0x${code.toString(16)}`;
}

/** A protocol violation that ends the whole connection with `code`. */
export class H3ConnectionError extends Error {
  /** The application error code to close the connection with. */
  readonly code: number;

  constructor(code: number, message: string) {
    super(`${h3ErrorName(code)}: ${message}`);
    this.name = "H3ConnectionError";
    this.code = code;
  }
}

/** A problem confined to one request stream (for example a malformed request). */
export class H3StreamError extends Error {
  /** The application error code that describes the stream error. */
  readonly code: number;

  constructor(code: number, message: string) {
    super(`${h3ErrorName(code)}: ${message}`);
    this.name = "H3StreamError";
    this.code = code;
  }
}

/**
 * A header section larger than the limit we advertise. RFC 9114 §4.2.2 lets
 * the server answer 431 instead of treating it as a protocol error.
 */
export class FieldSectionTooLargeError extends Error {
  constructor(limit: number) {
    super(`header section exceeds ${limit} bytes`);
    this.name = "FieldSectionTooLargeError";
  }
}
