/**
 * Go's `URL.EscapedPath`: how net/url writes a request's path on the wire,
 * which Easegress signs (the signature Validator) and shows to templates
 * (`.req.URL.EscapedPath`).
 *
 * @module
 */

const utf8 = new TextEncoder();

/** Bytes Go's `validEncoding(s, encodePath)` lets a path carry as they are, by char code. */
const PATH_VALID = new Uint8Array(128);
for (
  const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@[]/%"
) {
  PATH_VALID[c.charCodeAt(0)] = 1;
}
/** Bytes Go's `escape(s, encodePath)` leaves as they are, by char code. */
const PATH_UNESCAPED = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~$&+,/:;=@") {
  PATH_UNESCAPED[c.charCodeAt(0)] = 1;
}
const HEX_DIGITS = "0123456789ABCDEF";

/**
 * Go's `URL.EscapedPath` for a request whose target path is `path`: `path`
 * itself when it is a valid encoding (escapes kept as sent, `%7E` and
 * lower-case hex included), else Go's escaping of the decoded path.
 */
export function goEscapedPath(path: string): string {
  const bytes = utf8.encode(path);
  if (bytes.every((b) => b < 0x80 && PATH_VALID[b] === 1)) return path;
  // Go's unescape (encodePath mode): every well-formed escape decoded. A
  // malformed one never gets here in Go (the server answers 400); keep it.
  const decoded: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x25) {
      const hex = String.fromCharCode(bytes[i + 1] ?? 0, bytes[i + 2] ?? 0);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return path;
      decoded.push(parseInt(hex, 16));
      i += 2;
    } else decoded.push(b);
  }
  return escapePathBytes(decoded);
}

/**
 * Go's `escape(path, encodePath)`: how `URL.EscapedPath` writes a `URL.Path`
 * set without a raw form (a decoded path: its `%`, `?` and `#` are
 * characters, and are escaped).
 */
export function goEscapePath(decodedPath: string): string {
  return escapePathBytes(utf8.encode(decodedPath));
}

function escapePathBytes(bytes: Iterable<number>): string {
  let out = "";
  for (const b of bytes) {
    if (b < 0x80 && PATH_UNESCAPED[b] === 1) out += String.fromCharCode(b);
    else out += "%" + HEX_DIGITS[b >> 4] + HEX_DIGITS[b & 15];
  }
  return out;
}
