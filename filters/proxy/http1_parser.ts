/**
 * Byte-level parsing of HTTP/1.x response heads and chunked framing.
 *
 * Pure functions over a byte buffer: the connection code owns the socket and
 * the buffer, these only look at bytes. A head is located by a byte scan
 * for LF, decoded once with a shared decoder, and split with string
 * `indexOf`, which V8 turns into cheap sliced strings: no regex per line and
 * no decoder per request.
 *
 * @module
 */

import {
  fieldName,
  fieldValue,
  HeaderFields,
  headHasBadValueChar,
  knownFieldName,
  knownFieldNameAt,
} from "../header_fields.ts";
import { decodeHead, equalsLower } from "../byte_string.ts";
import { HOP_BY_HOP } from "./hop_by_hop.ts";
import { UpstreamError } from "./upstream_error.ts";

const LF = 10;
const CR = 13;
const SP = 32;
const HT = 9;

/** The parts of a response head the client needs. */
export interface ResponseHead {
  /** Status code, 100..999. */
  status: number;
  /** Whether the status line said HTTP/1.0. */
  http10: boolean;
  /** End-to-end headers: hop-by-hop ones (and those `Connection` lists) removed. */
  headers: HeaderFields;
  /** The declared body length, or -1 when absent or overridden by Transfer-Encoding. */
  contentLength: number;
  /** Whether the body uses chunked transfer coding. */
  chunked: boolean;
  /** Whether the connection cannot carry another request after this response. */
  close: boolean;
}

/**
 * Finds the end of a head in `buf[from, end)`: the index just past the blank
 * line (CRLF CRLF, or bare LF LF), or -1 if it has not arrived yet. When more
 * bytes arrive, callers may resume from `previousEnd - 3`.
 */
export function findHeadEnd(buf: Uint8Array, from: number, end: number): number {
  // A plain loop beats Uint8Array.indexOf on heads of a few hundred bytes.
  for (let i = from; i < end; i++) {
    if (buf[i] !== LF) continue;
    const next = i + 1;
    if (next >= end) return -1;
    const b = buf[next];
    if (b === LF) return next + 1;
    if (b === CR) {
      if (next + 1 >= end) return -1;
      if (buf[next + 1] === LF) return next + 2;
    }
  }
  return -1;
}

/** The index of the next LF in `buf[from, end)`, or -1. */
export function findLineEnd(buf: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) {
    if (buf[i] === LF) return i;
  }
  return -1;
}

function protocolError(message: string): UpstreamError {
  return new UpstreamError("protocol", `Invalid upstream response: ${message}`);
}

// Header names the parser must look at, bucketed by length so most names are
// classified without lower-casing them.
const KIND_OTHER = 0;
const KIND_HOP = 1;
const KIND_CONNECTION = 2;
const KIND_CONTENT_LENGTH = 3;
const KIND_TRANSFER_ENCODING = 4;
const SPECIAL_BY_LENGTH: (Map<string, number> | undefined)[] = [];
for (
  const [name, kind] of [
    ...[...HOP_BY_HOP].map((n) => [n, KIND_HOP] as const),
    ["connection", KIND_CONNECTION] as const,
    ["content-length", KIND_CONTENT_LENGTH] as const,
    ["transfer-encoding", KIND_TRANSFER_ENCODING] as const,
  ]
) {
  (SPECIAL_BY_LENGTH[name.length] ??= new Map()).set(name, kind);
}

function headerKind(name: string): number {
  const bucket = SPECIAL_BY_LENGTH[name.length];
  if (bucket === undefined) return KIND_OTHER;
  return bucket.get(knownFieldName(name) ?? name.toLowerCase()) ?? KIND_OTHER;
}

/** Parses a Content-Length value ("12", or a list of equal values "12, 12"); -2 if invalid. */
export function parseContentLength(value: string): number {
  let result = -1;
  let n = -1;
  for (let i = 0; i <= value.length; i++) {
    const c = i < value.length ? value.charCodeAt(i) : 44;
    if (c >= 48 && c <= 57) {
      n = n === -1 ? c - 48 : n * 10 + (c - 48);
      if (n > Number.MAX_SAFE_INTEGER) return -2;
    } else if (c === 44) {
      if (n === -1 || (result !== -1 && result !== n)) return -2;
      result = n;
      n = -1;
      // Skip optional whitespace after the comma.
      while (
        i + 1 < value.length && (value.charCodeAt(i + 1) === SP || value.charCodeAt(i + 1) === HT)
      ) i++;
    } else if (c === SP || c === HT) {
      // Whitespace before a comma.
      while (
        i + 1 < value.length && (value.charCodeAt(i + 1) === SP || value.charCodeAt(i + 1) === HT)
      ) i++;
      if (i + 1 < value.length && value.charCodeAt(i + 1) !== 44) return -2;
    } else {
      return -2;
    }
  }
  return result;
}

/**
 * Whether the comma-separated `list` holds `token` (lower case; compared
 * case-insensitively). Scans in place: it runs on every message head.
 */
export function hasToken(list: string, token: string): boolean {
  let i = 0;
  const n = list.length;
  while (i < n) {
    while (i < n && isListSpace(list.charCodeAt(i))) i++;
    let end = list.indexOf(",", i);
    if (end < 0) end = n;
    let last = end;
    while (last > i && isListSpace(list.charCodeAt(last - 1))) last--;
    if (last - i === token.length && equalsLower(list, i, token)) return true;
    i = end + 1;
  }
  return false;
}

function isListSpace(c: number): boolean {
  return c === SP || c === HT;
}

/** Whether a Transfer-Encoding value lists exactly one coding, chunked (any case). */
export function isChunkedOnly(value: string): boolean {
  if (value.length === 7) return equalsLower(value, 0, "chunked");
  let codings = 0;
  for (const part of value.split(",")) {
    const coding = part.trim();
    if (coding === "") continue;
    if (++codings > 1 || coding.length !== 7 || !equalsLower(coding, 0, "chunked")) return false;
  }
  return codings === 1;
}

// Scratch arrays reused by every parse: parsing is synchronous, so one set is
// enough. Filled by index, never truncated: `length = 0` would drop their
// storage and make every parse grow them again.
const names: string[] = [];
const values: string[] = [];
const kinds: number[] = [];
/**
 * A head with more fields than this lets the scratch arrays go after it, so
 * they do not keep its strings (and their slots) until a head as large comes.
 */
const SCRATCH_KEPT_FIELDS = 1024;

/**
 * Parses the response head in `buf[start, headEnd)` (as located by
 * {@linkcode findHeadEnd}). Obsolete line folding is replaced by a space, as
 * RFC 9112 asks of user agents. Throws an `UpstreamError` of kind `protocol`
 * for a malformed status line or header, or conflicting framing headers.
 */
export function parseResponseHead(buf: Uint8Array, start: number, headEnd: number): ResponseHead {
  const bytes = buf.subarray(start, headEnd);
  // A stray BOM stays visible, so the status-line check rejects it.
  const s = decodeHead(bytes);

  // Status line: "HTTP/1.x SSS[ reason]".
  const firstLf = s.indexOf("\n");
  let lineEnd = firstLf > 0 && s.charCodeAt(firstLf - 1) === CR ? firstLf - 1 : firstLf;
  const minor = s.charCodeAt(7) - 48;
  const d0 = s.charCodeAt(9) - 48;
  const d1 = s.charCodeAt(10) - 48;
  const d2 = s.charCodeAt(11) - 48;
  if (
    lineEnd < 12 || !s.startsWith("HTTP/1.") || minor < 0 || minor > 9 ||
    s.charCodeAt(8) !== SP || d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 ||
    (lineEnd > 12 && s.charCodeAt(12) !== SP)
  ) {
    throw protocolError(
      `malformed status line ${JSON.stringify(s.slice(0, Math.min(lineEnd, 64)))}`,
    );
  }
  const status = d0 * 100 + d1 * 10 + d2;
  const http10 = minor === 0;

  let fields = 0;
  let pos = firstLf + 1;
  for (;;) {
    const lf = s.indexOf("\n", pos);
    lineEnd = lf > pos && s.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
    if (lineEnd === pos) break;
    const first = s.charCodeAt(pos);
    if (first === SP || first === HT) {
      if (fields === 0) throw protocolError("header block starts with a continuation line");
      // One space between the parts, none at the value's edges: a value that
      // starts on the next line ("Content-Length:" CRLF " 2") is "2".
      const part = s.slice(pos, lineEnd).trim();
      const value = values[fields - 1];
      if (part !== "") values[fields - 1] = value === "" ? part : value + " " + part;
      pos = lf + 1;
      continue;
    }
    const colon = s.indexOf(":", pos);
    if (colon <= pos || colon > lineEnd) {
      throw protocolError(
        `malformed header line ${JSON.stringify(s.slice(pos, Math.min(lineEnd, pos + 64)))}`,
      );
    }
    let vs = colon + 1;
    let ve = lineEnd;
    while (vs < ve && (s.charCodeAt(vs) === SP || s.charCodeAt(vs) === HT)) vs++;
    while (ve > vs && (s.charCodeAt(ve - 1) === SP || s.charCodeAt(ve - 1) === HT)) ve--;
    names[fields] = knownFieldNameAt(s, pos, colon) ?? s.slice(pos, colon);
    values[fields] = s.slice(vs, ve);
    fields++;
    pos = lf + 1;
  }

  let contentLength = -1;
  let transferEncoding: string | null = null;
  let connection: string | null = null;
  for (let i = 0; i < fields; i++) {
    const kind = headerKind(names[i]);
    kinds[i] = kind;
    if (kind === KIND_OTHER) continue;
    const value = values[i];
    if (kind === KIND_CONTENT_LENGTH) {
      const n = parseContentLength(value);
      if (n < 0 || (contentLength !== -1 && contentLength !== n)) {
        throw protocolError(`invalid Content-Length ${JSON.stringify(value)}`);
      }
      contentLength = n;
    } else if (kind === KIND_TRANSFER_ENCODING) {
      transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
    } else if (kind === KIND_CONNECTION) {
      connection = connection === null ? value : `${connection}, ${value}`;
    }
  }

  let close = http10
    ? connection === null || !hasToken(connection, "keep-alive")
    : connection !== null && hasToken(connection, "close");
  let chunked = false;
  const hadContentLength = contentLength !== -1;
  if (transferEncoding !== null) {
    // Only chunked is taken, as by Go's client ("unsupported transfer encoding"):
    // another coding (gzip, say) could be neither undone nor labelled for the
    // client, so such an answer fails (503) and its connection is dropped.
    if (!isChunkedOnly(transferEncoding)) {
      throw protocolError(`unsupported transfer encoding ${JSON.stringify(transferEncoding)}`);
    }
    // Transfer-Encoding overrides Content-Length (RFC 9112 section 6.3). With
    // Content-Length too, or in HTTP/1.0 (which has no chunked coding), the
    // framing is suspect: the connection is closed after it (section 6.1),
    // so bytes a server framed otherwise are not read as the next answer.
    chunked = true;
    if (hadContentLength || http10) close = true;
    contentLength = -1;
  }

  const headers = new HeaderFields();
  const checkValues = headHasBadValueChar(s);
  // Names listed in Connection (beyond keep-alive/close) are hop-by-hop too.
  const listed = connection === null ? null : listedNames(connection);
  try {
    for (let i = 0; i < fields; i++) {
      const kind = kinds[i];
      if (kind !== KIND_OTHER) {
        if (kind !== KIND_CONTENT_LENGTH || transferEncoding !== null) continue;
      }
      const name = fieldName(names[i]);
      if (listed !== null && listed.has(name)) continue;
      headers.appendChecked(name, checkValues ? fieldValue(values[i]) : values[i]);
    }
  } catch (error) {
    throw new UpstreamError("protocol", `Invalid upstream response: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (fields > SCRATCH_KEPT_FIELDS) {
    names.length = 0;
    values.length = 0;
    kinds.length = 0;
  }
  return { status, http10, headers, contentLength, chunked, close };
}

function listedNames(connection: string): Set<string> | null {
  // The usual values list no other header: nothing to split.
  if (connection.length === 10 && equalsLower(connection, 0, "keep-alive")) return null;
  if (connection.length === 5 && equalsLower(connection, 0, "close")) return null;
  let listed: Set<string> | null = null;
  for (const part of connection.split(",")) {
    const token = part.trim().toLowerCase();
    if (token === "" || token === "close" || token === "keep-alive") continue;
    (listed ??= new Set()).add(token);
  }
  return listed;
}

/**
 * Parses a chunk-size line `buf[start, lineEnd)` (LF excluded, CR allowed):
 * hex digits, then optional whitespace and `;extensions`, which are ignored.
 * Returns -1 when the line is malformed or the size is unreasonably large.
 */
export function parseChunkSize(buf: Uint8Array, start: number, lineEnd: number): number {
  if (lineEnd > start && buf[lineEnd - 1] === CR) lineEnd--;
  let size = 0;
  let i = start;
  for (; i < lineEnd; i++) {
    const c = buf[i];
    let digit: number;
    if (c >= 48 && c <= 57) digit = c - 48;
    else if (c >= 97 && c <= 102) digit = c - 87;
    else if (c >= 65 && c <= 70) digit = c - 55;
    else break;
    size = size * 16 + digit;
    if (size > Number.MAX_SAFE_INTEGER) return -1;
  }
  if (i === start) return -1;
  while (i < lineEnd && (buf[i] === SP || buf[i] === HT)) i++;
  if (i < lineEnd && buf[i] !== 59) return -1; // ';' starts the extensions
  for (; i < lineEnd; i++) {
    if (buf[i] === CR || buf[i] === 0) return -1;
  }
  return size;
}
