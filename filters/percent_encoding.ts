/**
 * One spelling per request path for routing (RFC 3986 section 6.2.2):
 * percent-encoded unreserved characters decoded (`%61` is `a`), other
 * escapes in upper-case hex, and the characters no URL path carries as they
 * are (`"`, `<`, `>`, `\`, `^`, a backquote, `{`, `|` and `}`, which clients
 * such as curl send so) escaped, as Go's `URL.EscapedPath` writes them. Routed as sent, `/%61dmin` would miss an
 * `/admin` rule (and its ipFilter) and reach, through a catch-all rule, a
 * backend that decodes it to `/admin`; Easegress routes on the decoded path,
 * which has the same effect for these. Rule paths (an HTTPServer's, a
 * Mock's, a RequestAdaptor's) are written the same way, so a rule for
 * `/café`, `/a b` or `/a|b` meets the requests for them however they came.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Unreserved characters (ALPHA DIGIT - . _ ~), by char code. */
const UNRESERVED = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") {
  UNRESERVED[c.charCodeAt(0)] = 1;
}

/**
 * Characters a path carries as they are (pchar and "/"), by char code, and
 * "[" and "]", which Go's URL leaves in a path as sent (so a client signing
 * its path, as the signature Validator checks, writes them so).
 */
const PATH_CHAR = UNRESERVED.slice();
for (const c of "!$&'()*+,;=:@/%[]") PATH_CHAR[c.charCodeAt(0)] = 1;

/**
 * Printable characters no path may carry as they are (RFC 3986) and that Go
 * escapes in one, by char code. Space, "?", "#" and controls never reach a
 * path from a request: its parsers refuse them or end the path there.
 */
const ESCAPED_IN_PATH = new Uint8Array(128);
for (const c of '"<>\\^`{|}') ESCAPED_IN_PATH[c.charCodeAt(0)] = 1;
/** Whether a path has anything {@linkcode normalizeEscapes} may change: one scan. */
const NORMALIZABLE = /[%"<>\\^`{|}]/;
const PERCENT = 37;

const HEX = "0123456789ABCDEF";

/** A byte as its escape, "%" and two upper-case hex digits. */
function escapeByte(byte: number): string {
  return "%" + HEX[byte >> 4] + HEX[byte & 15];
}

/**
 * `target` (read as one char per byte) with every byte past ASCII written
 * as its escape, as Go's URL writes a request target sent unescaped.
 */
export function escapeHighBytes(target: string): string {
  let out = "";
  for (let i = 0; i < target.length; i++) {
    const code = target.charCodeAt(i);
    out += code < 0x80 ? target[i] : escapeByte(code);
  }
  return out;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/**
 * `path` with its escapes normalized: unreserved characters decoded, the
 * others in upper-case hex, and the characters of ESCAPED_IN_PATH escaped.
 * Returns `path` itself when nothing changes (always when it has none of
 * "%" and those), and null when a "%" is not followed by two hex digits:
 * such a path is no URL, and Go's server refuses its request with 400 where
 * a backend left to read it might take it otherwise.
 */
export function normalizeEscapes(path: string): string | null {
  if (!NORMALIZABLE.test(path)) return path;
  let out = "";
  let copied = 0;
  for (let at = 0; at < path.length; at++) {
    const code = path.charCodeAt(at);
    let spelled: string;
    if (code === PERCENT) {
      const hi = hexValue(path.charCodeAt(at + 1));
      const lo = hexValue(path.charCodeAt(at + 2));
      if (hi < 0 || lo < 0) return null;
      const byte = hi * 16 + lo;
      if (byte < 128 && UNRESERVED[byte] === 1) spelled = String.fromCharCode(byte);
      else if (
        path.charCodeAt(at + 1) === HEX.charCodeAt(hi) &&
        path.charCodeAt(at + 2) === HEX.charCodeAt(lo)
      ) {
        at += 2; // already upper-case
        continue;
      } else spelled = escapeByte(byte);
      out += path.slice(copied, at) + spelled;
      copied = at + 3;
      at += 2;
    } else if (code < 128 && ESCAPED_IN_PATH[code] === 1) {
      out += path.slice(copied, at) + escapeByte(code);
      copied = at + 1;
    }
  }
  return copied === 0 ? path : out + path.slice(copied);
}

/**
 * A rule's path as {@linkcode normalizeEscapes} leaves requests for it:
 * characters a path cannot carry as they are (space, non-ASCII, `|`...)
 * percent-encoded as UTF-8, then escapes normalized.
 */
export function normalizeRulePath(path: string): string {
  let out = "";
  for (const char of path.toWellFormed()) {
    const code = char.charCodeAt(0);
    if (code < 128 && PATH_CHAR[code] === 1) {
      out += char;
      continue;
    }
    for (const byte of encoder.encode(char)) out += escapeByte(byte);
  }
  // A rule with a malformed escape matches no request (they are refused): it stays as written.
  return normalizeEscapes(out) ?? out;
}
