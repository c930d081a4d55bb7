/**
 * Bytes as byte strings: one char per byte, the way HTTP field bytes map
 * to text (ISO-8859-1, the "isomorphic decode" of the Fetch standard).
 *
 * @module
 */

/** `ignoreBOM` keeps a leading BOM's bytes visible, as three chars. */
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
/** Longest run handed to `String.fromCharCode` at once (its arguments live on the stack). */
const CHUNK = 8192;

/** Bytes `[start, end)` of `bytes`, one char per byte. */
export function latin1(bytes: Uint8Array, start = 0, end = bytes.length): string {
  if (end - start <= CHUNK) {
    return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  let out = "";
  for (let i = start; i < end; i += CHUNK) out += latin1(bytes, i, Math.min(end, i + CHUNK));
  return out;
}

/**
 * A message head's bytes, one char per byte. Heads are nearly always
 * ASCII, which the runtime's UTF-8 decoder turns into text much faster
 * than `latin1`; its result is kept only when it has one char per byte and
 * no U+FFFD: a multi-byte sequence makes the text shorter and an invalid
 * byte becomes U+FFFD, so only ASCII passes. (Two string checks, where a
 * regular expression looking for non-ASCII chars cost 0.27 us on a
 * browser's 450-byte head.)
 */
export function decodeHead(bytes: Uint8Array): string {
  const text = utf8.decode(bytes);
  return text.length === bytes.length && text.indexOf("\uFFFD") < 0 ? text : latin1(bytes);
}

/**
 * Copies the chars of `text` into `buf` from `at`, one byte each, up to the
 * first char at or above `limit` (0x80 to keep to ASCII, 0x100 for a byte
 * string); returns how many it copied. `buf` must have room for `text`.
 */
export function copyChars(text: string, buf: Uint8Array, at: number, limit: number): number {
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c >= limit) return i;
    buf[at + i] = c;
  }
  return length;
}

/** How many decimal digits a non-negative integer has. */
export function decimalLength(value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return digits;
}

/**
 * Writes a non-negative safe integer in decimal into `buf` from `at`;
 * returns the index after its last digit. `buf` must have room.
 */
export function writeDecimal(value: number, buf: Uint8Array, at: number): number {
  const end = at + decimalLength(value);
  let rest = Math.floor(value);
  let i = end;
  do {
    buf[--i] = 48 + (rest % 10);
    rest = Math.floor(rest / 10);
  } while (rest > 0);
  return end;
}

/** Whether `text` from `at` matches the lower-case `lower`, ASCII case-insensitively. */
export function equalsLower(text: string, at: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) {
    let c = text.charCodeAt(at + k);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(k)) return false;
  }
  return true;
}
