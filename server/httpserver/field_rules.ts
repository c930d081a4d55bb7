/**
 * Field rules HTTP/2 and HTTP/3 share (RFC 9113 section 8.2, RFC 9114
 * section 4.2): names travel in lower case, values carry no NUL, CR or LF
 * and no whitespace at either end, and the fields that describe an HTTP/1.1
 * connection have no place in them.
 *
 * @module
 */

import { parseIP } from "../../filters/ip_address.ts";

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
const LOWER_NAME_CHARS: Uint8Array = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") {
  LOWER_NAME_CHARS[c.charCodeAt(0)] = 1;
}
for (let c = 0x41; c <= 0x5a; c++) LOWER_NAME_CHARS[c] = 2;

/** What is wrong with `name` as an HTTP/2 or HTTP/3 field name, or undefined when nothing is. */
export function fieldNameProblem(name: string): string | undefined {
  if (name.length === 0) return "empty field name";
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    const kind = code < 128 ? LOWER_NAME_CHARS[code] : 0;
    if (kind === 1) continue;
    if (kind === 2) return `field name "${name}" has uppercase characters`;
    return `field name ${JSON.stringify(name)} has an invalid character`;
  }
  return undefined;
}

/**
 * What is wrong with `value`, the value of field `name`, as an HTTP/2 or
 * HTTP/3 field value (NUL, CR or LF anywhere; a space or tab at either
 * end), or undefined when nothing is.
 */
export function fieldValueProblem(name: string, value: string): string | undefined {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0 || code === 0x0a || code === 0x0d) {
      return `value of ${JSON.stringify(name)} contains NUL, CR or LF`;
    }
  }
  if (value.length === 0) return undefined;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) {
    return `value of ${JSON.stringify(name)} has leading or trailing whitespace`;
  }
  return undefined;
}

/**
 * What is wrong with a trailer field (RFC 9113 section 8.1, RFC 9114 section
 * 4.1.2), or undefined when nothing is: a pseudo-field, a connection-specific
 * field, or what a head's field may not be either.
 */
export function trailerFieldProblem(name: string, value: string): string | undefined {
  if (name.charCodeAt(0) === 0x3a) return `pseudo-header ${JSON.stringify(name)} in trailers`;
  if (CONNECTION_SPECIFIC_FIELDS.has(name)) {
    return `connection-specific field "${name}" in trailers`;
  }
  return fieldNameProblem(name) ?? fieldValueProblem(name, value);
}

/** Chars allowed in an authority (RFC 3986 host[:port], no userinfo, no delimiters). */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]*)?$/;

/**
 * Whether `value` is a host with an optional port, as a Host field,
 * :authority or absolute-form target carries it: the proxy may send it
 * upstream as the Host.
 */
export function isAuthority(value: string): boolean {
  return AUTHORITY.test(value);
}

/**
 * Whether `value` may be a Host (or :authority): host[:port] (see
 * isAuthority), or an IPv6 address without brackets, which has no port
 * ("::1", as `curl -H 'Host: ::1'` sends it, and as Go's servers take it).
 */
export function isHostField(value: string): boolean {
  // Clients send the same Host request after request: the last good one is
  // compared, where the expression would scan it again.
  if (value === lastHostField) return true;
  if (!AUTHORITY.test(value) && !(value.includes(":") && parseIP(value) !== undefined)) {
    return false;
  }
  lastHostField = value;
  return true;
}

let lastHostField = "";
