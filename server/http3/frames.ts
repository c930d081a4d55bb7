/**
 * HTTP/3 frame and stream-type constants (RFC 9114 §6.2, §7.2) and the
 * encoders/decoders for frame payloads. Reading frames off a stream is the job
 * of `stream_reader.ts`; this module only deals with bytes already in hand.
 *
 * @module
 */

import { H3_ERROR, H3ConnectionError } from "./errors.ts";
import { readVarint, varintLength, varintSizeFromFirstByte, writeVarint } from "./varint.ts";

/** Frame types defined by RFC 9114 §7.2. */
export const FRAME = {
  DATA: 0x00,
  HEADERS: 0x01,
  CANCEL_PUSH: 0x03,
  SETTINGS: 0x04,
  PUSH_PROMISE: 0x05,
  GOAWAY: 0x07,
  MAX_PUSH_ID: 0x0d,
} as const;

/** Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2). */
export const STREAM_TYPE = {
  CONTROL: 0x00,
  PUSH: 0x01,
  QPACK_ENCODER: 0x02,
  QPACK_DECODER: 0x03,
} as const;

/** Setting identifiers we understand (RFC 9114 §7.2.4.1, RFC 9204 §5). */
export const SETTING = {
  QPACK_MAX_TABLE_CAPACITY: 0x01,
  MAX_FIELD_SECTION_SIZE: 0x06,
  QPACK_BLOCKED_STREAMS: 0x07,
} as const;

/**
 * HTTP/2 frame types that RFC 9114 §7.2.8 reserves: receiving one is a
 * connection error of type H3_FRAME_UNEXPECTED.
 */
export function isReservedHttp2FrameType(type: number): boolean {
  return type === 0x02 || type === 0x06 || type === 0x08 || type === 0x09;
}

/** HTTP/2 setting identifiers that RFC 9114 §7.2.4.1 forbids (H3_SETTINGS_ERROR). */
function isReservedHttp2Setting(id: number): boolean {
  return id === 0x00 || id === 0x02 || id === 0x03 || id === 0x04 || id === 0x05;
}

/**
 * Whether `value` is a reserved "GREASE" identifier of the form 0x1f * N + 0x21
 * (RFC 9114 §7.2.8, §6.2.3, §7.2.4.1), handy for sending some.
 */
export function isGreaseId(value: number): boolean {
  return value >= 0x21 && (value - 0x21) % 0x1f === 0;
}

/** Bytes of a frame header (type and length) for a frame of `type` with `length` payload bytes. */
export function frameHeaderLength(type: number, length: number): number {
  return varintLength(type) + varintLength(length);
}

/** Writes a frame header at `offset`; returns the offset just past it. */
export function writeFrameHeader(
  buf: Uint8Array,
  offset: number,
  type: number,
  length: number,
): number {
  return writeVarint(buf, writeVarint(buf, offset, type), length);
}

/** A whole frame: header followed by `payload`. */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(frameHeaderLength(type, payload.length) + payload.length);
  out.set(payload, writeFrameHeader(out, 0, type, payload.length));
  return out;
}

/** A SETTINGS frame listing `settings` as identifier/value pairs in order. */
export function encodeSettingsFrame(
  settings: ReadonlyArray<readonly [number, number]>,
): Uint8Array {
  let length = 0;
  for (const [id, value] of settings) length += varintLength(id) + varintLength(value);
  const out = new Uint8Array(frameHeaderLength(FRAME.SETTINGS, length) + length);
  let offset = writeFrameHeader(out, 0, FRAME.SETTINGS, length);
  for (const [id, value] of settings) {
    offset = writeVarint(out, writeVarint(out, offset, id), value);
  }
  return out;
}

/** A GOAWAY frame naming the first request stream ID the sender will not process. */
export function encodeGoawayFrame(id: number): Uint8Array {
  const length = varintLength(id);
  const out = new Uint8Array(frameHeaderLength(FRAME.GOAWAY, length) + length);
  writeVarint(out, writeFrameHeader(out, 0, FRAME.GOAWAY, length), id);
  return out;
}

/**
 * An empty frame of a reserved type (0x21, RFC 9114 §7.2.8), which peers
 * ignore: on the control stream it is traffic that says nothing.
 */
export const EMPTY_RESERVED_FRAME: Uint8Array = Uint8Array.of(0x21, 0x00);

/**
 * Parses a SETTINGS payload into a map. Duplicate identifiers and HTTP/2-only
 * identifiers are H3_SETTINGS_ERROR; a payload that ends inside a varint is
 * H3_FRAME_ERROR. Unknown identifiers are kept (callers ignore them).
 */
export function parseSettings(payload: Uint8Array): Map<number, number> {
  const settings = new Map<number, number>();
  let offset = 0;
  while (offset < payload.length) {
    const id = readVarint(payload, offset);
    if (id < 0) throw truncatedPayload("SETTINGS");
    offset += varintSizeFromFirstByte(payload[offset]);
    const value = readVarint(payload, offset);
    if (value < 0) throw truncatedPayload("SETTINGS");
    offset += varintSizeFromFirstByte(payload[offset]);
    if (isReservedHttp2Setting(id)) {
      throw new H3ConnectionError(
        H3_ERROR.SETTINGS_ERROR,
        `SETTINGS carries HTTP/2 setting 0x${id.toString(16)}`,
      );
    }
    if (settings.has(id)) {
      throw new H3ConnectionError(
        H3_ERROR.SETTINGS_ERROR,
        `SETTINGS repeats setting 0x${id.toString(16)}`,
      );
    }
    settings.set(id, value);
  }
  return settings;
}

/**
 * Parses the payload of GOAWAY, MAX_PUSH_ID or CANCEL_PUSH, which is exactly
 * one varint; anything else is H3_FRAME_ERROR (RFC 9114 §7.1).
 */
export function parseSingleVarintPayload(payload: Uint8Array, frameName: string): number {
  const value = readVarint(payload, 0);
  if (value < 0) throw truncatedPayload(frameName);
  if (varintSizeFromFirstByte(payload[0]) !== payload.length) {
    throw new H3ConnectionError(
      H3_ERROR.FRAME_ERROR,
      `${frameName} payload has ${payload.length} bytes, more than its one varint`,
    );
  }
  return value;
}

function truncatedPayload(frameName: string): H3ConnectionError {
  return new H3ConnectionError(H3_ERROR.FRAME_ERROR, `${frameName} payload ends inside a varint`);
}

/** A human name for a frame type, for error messages. */
export function frameName(type: number): string {
  for (const [name, value] of Object.entries(FRAME)) if (value === type) return name;
  return `0x${type.toString(16)}`;
}
