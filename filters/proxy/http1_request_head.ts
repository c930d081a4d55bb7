/**
 * Serializes an HTTP/1.1 request head into one string, so each request costs
 * a single encode and (usually) a single socket write.
 *
 * @module
 */

import { forEachHeaderField, isToken } from "../header_fields.ts";
import { extraConnectionHeaders, HOP_BY_HOP } from "./hop_by_hop.ts";
import { parseContentLength } from "./http1_parser.ts";

/** Client headers never copied: hop-by-hop ones, plus those the client writes itself. */
const NOT_COPIED: ReadonlySet<string> = new Set([...HOP_BY_HOP, "host", "content-length"]);

// Control characters are exactly what these patterns look for.
// deno-lint-ignore no-control-regex
const CONTROL_SPACE_OR_NON_ASCII = /[\x00-\x20\x7f-\uffff]/;
/** What a header value must not contain: NUL, CR, LF, or chars that are not bytes. */
// deno-lint-ignore no-control-regex
const BAD_VALUE = /[\x00\r\n\u0100-\uffff]/;
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "OPTIONS",
  "PATCH",
  "TRACE",
  "CONNECT",
]);

// State for appendHeader: serializing is synchronous, so one set is enough and
// no closure is allocated per request.
let scratchHead = "";
let scratchListed: Set<string> | null = null;
let scratchExtra: [string, string][] | undefined;

function appendHeader(value: string, name: string): void {
  if (NOT_COPIED.has(name) || (scratchListed !== null && scratchListed.has(name))) return;
  if (scratchExtra !== undefined && isExtra(scratchExtra, name)) return;
  scratchHead += name + ": " + value + "\r\n";
}

/** Whether `name` (lower case) is one of `extra`'s: a few, so a scan beats a set. */
function isExtra(extra: [string, string][], name: string): boolean {
  for (let i = 0; i < extra.length; i++) if (extra[i][0] === name) return true;
  return false;
}

/** The request-line and header parts a head is built from. */
export interface RequestHeadParts {
  /** Request method, an HTTP token. */
  method: string;
  /** Request target as sent on the request line (path and query). */
  target: string;
  /** Host header value. */
  host: string;
  /** Client headers; hop-by-hop ones, Host and Content-Length are skipped. */
  headers: Headers;
  /**
   * Headers written after `headers`, verbatim, with lower-case names; a
   * client header of the same name is left out (they replace it, as Go's
   * `Header.Set` would).
   */
  extraHeaders?: [string, string][];
}

/**
 * `target` as a request line can carry it: spaces, control characters and
 * non-ASCII (which a filter may have put into a path) are percent-encoded,
 * their UTF-8 bytes as Go's `URL.EscapedPath` does; anything else, `%`
 * included, is left as it is, so a target as the client sent it passes
 * unchanged.
 */
export function sendableTarget(target: string): string {
  if (!CONTROL_SPACE_OR_NON_ASCII.test(target)) return target;
  let out = "";
  for (const char of target.toWellFormed()) {
    out += CONTROL_SPACE_OR_NON_ASCII.test(char) ? encodeURIComponent(char) : char;
  }
  return out;
}

/**
 * Builds the request head, ending with the blank line. `framing` is the
 * body-framing header line to include (`"content-length: 5\r\n"`,
 * `"transfer-encoding: chunked\r\n"`, or `""`). Throws a `TypeError` naming
 * the bad part when the method, target, host or an extra header could break
 * the message framing.
 */
export function serializeRequestHead(parts: RequestHeadParts, framing: string): string {
  const { method, target, host, headers, extraHeaders } = parts;
  if (!KNOWN_METHODS.has(method) && !isToken(method)) {
    throw new TypeError(`Cannot send upstream request: invalid method ${JSON.stringify(method)}`);
  }
  if (target === "" || CONTROL_SPACE_OR_NON_ASCII.test(target)) {
    throw new TypeError(`Cannot send upstream request: invalid target ${JSON.stringify(target)}`);
  }
  if (host === "" || CONTROL_SPACE_OR_NON_ASCII.test(host)) {
    throw new TypeError(`Cannot send upstream request: invalid host ${JSON.stringify(host)}`);
  }
  scratchHead = method + " " + target + " HTTP/1.1\r\nhost: " + host + "\r\n";
  scratchListed = extraConnectionHeaders(headers.get("connection"));
  scratchExtra = extraHeaders;
  forEachHeaderField(headers, appendHeader);
  let head = scratchHead;
  scratchHead = "";
  scratchListed = null;
  scratchExtra = undefined;
  if (extraHeaders !== undefined) {
    for (let i = 0; i < extraHeaders.length; i++) {
      const [name, value] = extraHeaders[i];
      if (!isToken(name) || BAD_VALUE.test(value)) {
        throw new TypeError(
          `Cannot send upstream request: invalid extra header ${JSON.stringify(name)}`,
        );
      }
      head += name + ": " + value + "\r\n";
    }
  }
  return head + framing + "\r\n";
}

/**
 * The client's declared Content-Length, or -1 when absent. A list of equal
 * values is that value: the field sent twice alike, which servers take (RFC
 * 9110 section 8.6) and a `Headers` joins into "4, 4". Throws a `TypeError`
 * for a value that is not a non-negative integer or such a list.
 */
export function declaredContentLength(headers: Headers): number {
  const value = headers.get("content-length");
  if (value === null) return -1;
  const length = parseContentLength(value.trim());
  if (length < 0) {
    throw new TypeError(
      `Cannot send upstream request: invalid Content-Length ${JSON.stringify(value)}`,
    );
  }
  return length;
}

const encoder = new TextEncoder();

/**
 * Encodes `head` into `buf` from offset 0 and returns the byte count, or -1
 * when it does not fit. Header strings are ByteStrings (one char per byte),
 * so characters 0x80-0xFF are written as single bytes, not UTF-8.
 */
export function encodeHeadInto(head: string, buf: Uint8Array): number {
  if (head.length > buf.length) return -1;
  const { read, written } = encoder.encodeInto(head, buf);
  if (read === head.length && written === head.length) return written;
  // Non-ASCII: fall back to a byte-per-char copy (rare).
  for (let i = 0; i < head.length; i++) {
    const c = head.charCodeAt(i);
    if (c > 0xff) {
      throw new TypeError(
        `Cannot write HTTP/1.1 head: header text has character U+${c.toString(16)}`,
      );
    }
    buf[i] = c;
  }
  return head.length;
}
