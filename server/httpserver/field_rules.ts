/**
 * Field rules HTTP/2 and HTTP/3 share (RFC 9113 section 8.2, RFC 9114
 * section 4.2): names travel in lower case, and the fields that describe
 * an HTTP/1.1 connection have no place in them.
 *
 * @module
 */

/** Fields that only mean something on a single HTTP/1.1 hop. */
export const CONNECTION_SPECIFIC_FIELDS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/**
 * By char code below 128: 1 for chars allowed in a lower-case field name
 * (an RFC 9110 token without A-Z), 2 for A-Z, 0 for the rest.
 */
export const LOWER_NAME_CHARS: Uint8Array = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") {
  LOWER_NAME_CHARS[c.charCodeAt(0)] = 1;
}
for (let c = 0x41; c <= 0x5a; c++) LOWER_NAME_CHARS[c] = 2;
