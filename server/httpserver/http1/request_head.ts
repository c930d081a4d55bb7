/**
 * Parsing of HTTP/1.x request heads received by the server, with the checks
 * RFC 9112 asks of a server: a malformed head, a missing or repeated Host,
 * or ambiguous body framing (the request-smuggling cases) is refused with
 * the status a careful server sends, never guessed at.
 *
 * @module
 */

import { removeDotSegments } from "../dot_segments.ts";
import { escapeHighBytes } from "../../../filters/percent_encoding.ts";
import {
  fieldName,
  fieldValue,
  HeaderFields,
  isToken,
  isTokenCode,
  knownFieldNameAt,
  quote,
} from "../../../filters/header_fields.ts";
import { decodeHead } from "../../../filters/byte_string.ts";
import { hasToken, parseContentLength } from "../../../filters/proxy/http1_parser.ts";
import { isHostField } from "../field_rules.ts";

const CR = 13;
const SP = 32;
const HT = 9;
const TLS_HANDSHAKE = 0x16;

/**
 * What no request target may hold: a control character, space, or "#" (a
 * fragment is never sent, RFC 9112 section 3.2). Passed on, "/admin#x"
 * would miss an "/admin" rule here and reach a backend that drops the
 * fragment as "/admin".
 */
// deno-lint-ignore no-control-regex
const BAD_TARGET = /[\x00-\x20#\x7f]/;
/** What BAD_TARGET finds, or a byte past ASCII: one scan finds either kind. */
// deno-lint-ignore no-control-regex
const UNUSUAL_TARGET = /[\x00-\x20#\x7f-\xff]/;
/**
 * What no field value may hold, as Go's net/http refuses it (its
 * ValidHeaderFieldValue; RFC 9110 section 5.5): a control char other than
 * HTAB, DEL, and so a CR that does not end a line. Bytes past ASCII are
 * obs-text and pass.
 */
// deno-lint-ignore no-control-regex
const BAD_VALUE_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;
/**
 * Whether a whole head holds a char no field value may (a CR that ends no
 * line, a control char other than HTAB, CR and LF, or DEL): two scans of
 * the head instead of one per value. Two expressions, as V8 skips through
 * a subject in SIMD steps only for a pattern whose first char is one of at
 * most 16: with one for all 31, a browser's 600-byte head took 2.7 us to
 * parse instead of 1.8.
 */
// deno-lint-ignore no-control-regex
const BAD_HEAD_CHAR_LOW = /[\x00-\x08\x0b\x0c\x0e-\x11]|\r(?!\n)/;
// deno-lint-ignore no-control-regex
const BAD_HEAD_CHAR_HIGH = /[\x12-\x1f\x7f]/;

/** A request refused before it reached routing; `status` is the answer to send. */
export class RequestHeadError extends Error {
  /** 400, 414, 431, 501 or 505. */
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "RequestHeadError";
    this.status = status;
  }
}

/** What the server needs from a request head. */
export interface RequestHead {
  method: string;
  /** Path without the query ("*" for `OPTIONS *`). */
  path: string;
  /** Raw query without "?", "" when absent. */
  query: string;
  /** The target as sent, when it is not `path` and `query` (see HttpRequest.requestURI). */
  requestURI: string | undefined;
  /** The Host header, or the authority of an absolute-form target. */
  host: string;
  /** Whether the request line said HTTP/1.0. */
  http10: boolean;
  /** Every header as received (including Connection and friends). */
  headers: HeaderFields;
  /** Declared body length; 0 when the request has no body; -1 when chunked. */
  contentLength: number;
  /** Whether the body uses chunked transfer coding. */
  chunked: boolean;
  /** Whether the client asked to close the connection after this exchange. */
  close: boolean;
  /** Whether the client waits for "100 Continue" before sending the body. */
  expectContinue: boolean;
}

// Scratch arrays reused by every parse: parsing is synchronous.
// Filled by index, never truncated: `length = 0` would drop the arrays' storage
// and make every parse grow them again.
const names: string[] = [];
const values: string[] = [];

/**
 * Where a request begins in `buf[start, end)`: past the empty lines a
 * client may send before it (RFC 9112 section 2.2; some clients end a body
 * with an extra CRLF), which must not be taken for the head's end.
 */
export function skipEmptyLines(buf: Uint8Array, start: number, end: number): number {
  while (start < end && (buf[start] === CR || buf[start] === 10)) start++;
  return start;
}

/**
 * Parses the head in `buf[start, headEnd)` (located by `findHeadEnd`).
 * Throws {@linkcode RequestHeadError} with the status to answer.
 */
export function parseRequestHead(buf: Uint8Array, start: number, headEnd: number): RequestHead {
  const bytes = buf.subarray(start, headEnd);
  // A stray BOM stays visible, so the request-line check rejects it.
  const s = decodeHead(bytes);
  // Leading empty lines before a request line are ignored (RFC 9112 section 2.2).
  let pos = 0;
  while (s.charCodeAt(pos) === CR || s.charCodeAt(pos) === 10) pos++;

  const lf = s.indexOf("\n", pos);
  const lineEnd = lf > pos && s.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
  const sp1 = s.indexOf(" ", pos);
  const sp2 = sp1 < 0 ? -1 : s.indexOf(" ", sp1 + 1);
  if (sp1 <= pos || sp2 < 0 || sp2 >= lineEnd) {
    throw bad(`malformed request line ${quote(s.slice(pos, lineEnd))}`);
  }
  const method = s.slice(pos, sp1);
  let target = s.slice(sp1 + 1, sp2);
  const version = s.slice(sp2 + 1, lineEnd);
  if (!isToken(method)) throw bad(`invalid method ${quote(method)}`);
  let http10: boolean;
  if (version === "HTTP/1.1") http10 = false;
  else if (version === "HTTP/1.0") http10 = true;
  // A later 1.x is served as 1.1, the highest minor version here (RFC 9110
  // section 2.5), as Go and nginx serve it.
  else if (/^HTTP\/1\.\d$/.test(version)) http10 = false;
  else if (/^HTTP\/\d\.\d$/.test(version)) {
    throw new RequestHeadError(505, `HTTP version ${version.slice(5)} is not supported`);
  } else throw bad(`malformed request line ${quote(s.slice(pos, lineEnd))}`);
  if (target === "" || UNUSUAL_TARGET.test(target)) {
    if (target === "" || BAD_TARGET.test(target)) {
      throw bad(`invalid request target ${quote(target)}`);
    }
    // Bytes past ASCII (a client sending UTF-8 unescaped) go on as the escapes
    // Go's URL would write; read as text, they were escaped again as UTF-8 of
    // each byte upstream (/café reached the backend as /caf%C3%83%C2%A9).
    target = escapeHighBytes(target);
  }

  let fields = 0;
  pos = lf + 1;
  for (;;) {
    const next = s.indexOf("\n", pos);
    const end = next > pos && s.charCodeAt(next - 1) === CR ? next - 1 : next;
    if (end === pos) break;
    const first = s.charCodeAt(pos);
    if (first === SP || first === HT) throw bad("obsolete header line folding");
    const colon = s.indexOf(":", pos);
    if (colon <= pos || colon > end) throw bad(`malformed header line ${quote(s.slice(pos, end))}`);
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && (s.charCodeAt(vs) === SP || s.charCodeAt(vs) === HT)) vs++;
    while (ve > vs && (s.charCodeAt(ve - 1) === SP || s.charCodeAt(ve - 1) === HT)) ve--;
    names[fields] = knownFieldNameAt(s, pos, colon) ?? s.slice(pos, colon);
    values[fields] = s.slice(vs, ve);
    fields++;
    pos = next + 1;
  }

  // The values are looked at one by one only to name the bad one.
  const checkValues = BAD_HEAD_CHAR_LOW.test(s) || BAD_HEAD_CHAR_HIGH.test(s);
  const headers = new HeaderFields();
  let host: string | null = null;
  let contentLength = -1;
  let transferEncoding: string | null = null;
  let connection: string | null = null;
  let expectContinue = false;
  for (let i = 0; i < fields; i++) {
    let name: string;
    try {
      name = fieldName(names[i]);
    } catch {
      throw bad(`invalid header ${quote(names[i])}`);
    }
    const value = checkValues ? checkedValue(values[i]) : values[i];
    if (value === null) {
      throw bad(`invalid header ${quote(names[i])}: a control character in its value`);
    }
    headers.appendChecked(name, value);
    // Only a few names matter here; their lengths rule out most names cheaply.
    switch (name.length) {
      case 4:
        if (name === "host") {
          if (host !== null) throw bad("more than one Host header");
          host = value;
        }
        break;
      case 6:
        if (name === "expect") {
          if (value.toLowerCase() !== "100-continue") {
            throw new RequestHeadError(417, `unsupported Expect ${quote(value)}`);
          }
          expectContinue = true;
        }
        break;
      case 10:
        if (name === "connection") {
          connection = connection === null ? value : `${connection}, ${value}`;
        }
        break;
      case 14:
        if (name === "content-length") {
          const n = parseContentLength(value);
          if (n < 0) throw bad(`invalid Content-Length ${quote(value)}`);
          if (contentLength !== -1 && contentLength !== n) {
            throw bad(`conflicting Content-Length fields: ${contentLength} and ${n}`);
          }
          contentLength = n;
        }
        break;
      case 17:
        if (name === "transfer-encoding") {
          transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
        }
        break;
    }
  }

  let chunked = false;
  if (transferEncoding !== null) {
    // Both framings at once is how requests are smuggled past proxies.
    if (contentLength !== -1) throw bad("both Content-Length and Transfer-Encoding");
    if (http10) throw bad("Transfer-Encoding in an HTTP/1.0 request");
    const codings = transferEncoding.split(",").map((c) => c.trim().toLowerCase());
    if (codings[codings.length - 1] !== "chunked") {
      throw bad(`Transfer-Encoding ${quote(transferEncoding)} does not end with chunked`);
    }
    if (codings.length > 1) {
      throw new RequestHeadError(501, `unsupported Transfer-Encoding ${quote(transferEncoding)}`);
    }
    chunked = true;
  } else if (contentLength === -1) {
    contentLength = 0;
  }

  let path: string;
  let query = "";
  let absoluteForm = false;
  if (target.charCodeAt(0) === 47) { // "/"
    const q = target.indexOf("?");
    path = q < 0 ? target : target.slice(0, q);
    if (q >= 0) query = target.slice(q + 1);
  } else if (target === "*" && method === "OPTIONS") {
    path = "*";
  } else {
    // Absolute form: its authority replaces the Host header (RFC 9112 section 3.2.2),
    // which HTTP/1.1 clients must still send (section 3.2).
    if (host === null && !http10) throw bad("missing Host header");
    absoluteForm = true;
    const parts = absoluteFormParts(target);
    if (parts === null) throw bad(`invalid request target ${quote(target)}`);
    host = parts.authority;
    const rest = parts.rest;
    const q = rest.indexOf("?");
    path = q < 0 ? rest : rest.slice(0, q);
    if (q >= 0) query = rest.slice(q + 1);
  }
  // Routed and forwarded without its dot segments (see dot_segments.ts).
  const sentPath = path;
  path = removeDotSegments(path);
  if (host === null) {
    if (!http10) throw bad("missing Host header");
    host = "";
  } else if (host !== "" && !isHostField(host)) {
    // A Host with an invalid value is a 400 (RFC 9112 section 3.2); it may go upstream as is.
    throw bad(`invalid Host ${quote(host)}`);
  }

  const close = http10
    ? connection === null || !hasToken(connection, "keep-alive")
    : connection !== null && hasToken(connection, "close");
  return {
    method,
    path,
    query,
    requestURI: absoluteForm || path !== sentPath ? target : undefined,
    host,
    http10,
    headers,
    contentLength: chunked ? -1 : contentLength,
    chunked,
    close,
    // HTTP/1.0 clients cannot take an interim response (RFC 9110 section 10.1.1).
    expectContinue: expectContinue && !http10,
  };
}

/** An absolute-form target: an http(s) URL's authority, then its path and query. */
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]+)([^#]*)$/i;

/**
 * The authority and the path with its query ("/" when the URL has no path)
 * of an absolute-form target (RFC 9112 section 3.2.2), or null when
 * `target` is no http(s) URL. The authority is the request's host.
 */
export function absoluteFormParts(target: string): { authority: string; rest: string } | null {
  const m = ABSOLUTE_FORM.exec(target);
  if (m === null) return null;
  const rest = m[2];
  return { authority: m[1], rest: rest.charCodeAt(0) === 47 ? rest : "/" + rest };
}

/**
 * The error for a request line whose method, as far as it has arrived in
 * `buf[start, end)`, cannot be a token (a TLS handshake sent to a plain
 * port, say), or null: lets a server refuse it without waiting for a line end
 * that may never come.
 */
export function badMethodStart(
  buf: Uint8Array,
  start: number,
  end: number,
): RequestHeadError | null {
  let pos = start;
  while (pos < end && (buf[pos] === CR || buf[pos] === 10)) pos++;
  for (let i = pos; i < end; i++) {
    const c = buf[i];
    if (c === SP) return null;
    if (!isTokenCode(c)) {
      // 0x16 starts a TLS record: an https:// URL pointed at this plain port.
      if (buf[pos] === TLS_HANDSHAKE) return bad("a TLS handshake sent to a plain HTTP port");
      const seen = decodeHead(buf.subarray(pos, Math.min(end, pos + 16)));
      return bad(`invalid method ${quote(seen)}: not an HTTP/1.x request`);
    }
  }
  return null;
}

/**
 * A value of a head that holds a char no value may, somewhere: the value
 * trimmed of CRs at its ends, as Go trims them; null when it holds such a
 * char itself.
 */
function checkedValue(value: string): string | null {
  try {
    value = fieldValue(value);
  } catch {
    return null;
  }
  return BAD_VALUE_CHAR.test(value) ? null : value;
}

function bad(message: string): RequestHeadError {
  return new RequestHeadError(400, message);
}
