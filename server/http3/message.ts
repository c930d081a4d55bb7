/**
 * HTTP semantics on top of decoded field sections: validating a request's
 * header section (RFC 9114 §4.2, §4.3.1) into a URL, method and `Headers`,
 * validating trailers, and turning a `Response` into response fields.
 * Anything malformed is an H3StreamError of type H3_MESSAGE_ERROR.
 *
 * @module
 */

import { H3_ERROR, H3StreamError } from "./errors.ts";
import {
  CONNECTION_SPECIFIC_FIELDS,
  fieldNameProblem,
  fieldValueProblem,
  LOWER_NAME_CHARS,
} from "../httpserver/field_rules.ts";

/** Chars allowed in :authority (RFC 3986 host[:port], no userinfo, no delimiters). */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]*)?$/;

/** What the request header section says, ready for building a `Request`. */
export interface RequestHead {
  /** The :method value. */
  method: string;
  /** `scheme://authority/path` from the pseudo-header fields. */
  url: string;
  /** Regular header fields, cookies joined with "; " (RFC 9114 §4.2.1). */
  headers: Headers;
  /** Declared content-length, or -1 when there is none. */
  contentLength: number;
}

function malformed(message: string): H3StreamError {
  return new H3StreamError(H3_ERROR.MESSAGE_ERROR, message);
}

/** Throws H3_MESSAGE_ERROR unless `name` is a lowercase token. */
function checkFieldName(name: string): void {
  const problem = fieldNameProblem(name);
  if (problem !== undefined) throw malformed(problem);
}

/** Throws H3_MESSAGE_ERROR for NUL, CR, LF, or leading/trailing whitespace (RFC 9114 §4.2). */
function checkFieldValue(name: string, value: string): void {
  const problem = fieldValueProblem(name, value);
  if (problem !== undefined) throw malformed(problem);
}

/** Throws H3_MESSAGE_ERROR unless `path` is an origin-form path (visible ASCII, no fragment). */
function checkPath(path: string): void {
  if (path.charCodeAt(0) !== 0x2f) throw malformed(`:path "${path}" does not start with "/"`);
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f || code === 0x23) {
      throw malformed(`:path has a character that is not allowed (${JSON.stringify(path[i])})`);
    }
  }
}

/**
 * Validates a decoded request header section (flat name/value list) and
 * returns its parts. CONNECT requests are returned as such (method
 * "CONNECT", url built from :authority) for the caller to refuse.
 */
export function parseRequestHead(fields: readonly string[]): RequestHead {
  let method: string | undefined;
  let scheme: string | undefined;
  let authority: string | undefined;
  let path: string | undefined;
  let host: string | undefined;
  let cookie: string | undefined;
  let contentLength = -1;
  let sawRegular = false;
  const headers = new Headers();
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (name.charCodeAt(0) === 0x3a) {
      if (sawRegular) throw malformed(`pseudo-header ${name} after a regular field`);
      switch (name) {
        case ":method":
          if (method !== undefined) throw malformed("repeated :method");
          method = value;
          break;
        case ":scheme":
          if (scheme !== undefined) throw malformed("repeated :scheme");
          scheme = value;
          break;
        case ":authority":
          if (authority !== undefined) throw malformed("repeated :authority");
          authority = value;
          break;
        case ":path":
          if (path !== undefined) throw malformed("repeated :path");
          path = value;
          break;
        case ":protocol":
          throw malformed(":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL");
        case ":status":
          throw malformed("response pseudo-header :status in a request");
        default:
          throw malformed(`unknown pseudo-header ${name}`);
      }
      continue;
    }
    sawRegular = true;
    checkFieldName(name);
    checkFieldValue(name, value);
    if (CONNECTION_SPECIFIC_FIELDS.has(name)) {
      throw malformed(`connection-specific field "${name}"`);
    }
    if (name === "te" && value !== "trailers") throw malformed(`te: "${value}" is not "trailers"`);
    if (name === "cookie") {
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      continue;
    }
    if (name === "host") {
      if (host !== undefined) throw malformed("repeated host");
      host = value;
    } else if (name === "content-length") {
      contentLength = mergeContentLength(contentLength, value);
    }
    headers.append(name, value);
  }
  if (cookie !== undefined) headers.set("cookie", cookie);
  if (method === undefined) throw malformed("missing :method");
  checkMethod(method);
  if (authority !== undefined) checkAuthority(authority);
  if (host !== undefined) checkAuthority(host, "host");
  if (method === "CONNECT") {
    if (scheme !== undefined || path !== undefined) {
      throw malformed("CONNECT with :scheme or :path");
    }
    if (authority === undefined) throw malformed("CONNECT without :authority");
    return { method, url: `https://${authority}/`, headers, contentLength };
  }
  if (scheme === undefined) throw malformed("missing :scheme");
  if (path === undefined) throw malformed("missing :path");
  if (path === "") throw malformed("empty :path");
  if (scheme !== "https" && scheme !== "http") throw malformed(`unsupported :scheme "${scheme}"`);
  if (authority === undefined && host === undefined) throw malformed("missing :authority and host");
  if (authority !== undefined && host !== undefined && authority !== host) {
    throw malformed(`:authority "${authority}" differs from host "${host}"`);
  }
  if (path === "*") {
    if (method !== "OPTIONS") throw malformed(`:path "*" with method ${method}`);
    path = "/*";
  } else {
    checkPath(path);
  }
  return { method, url: `${scheme}://${authority ?? host}${path}`, headers, contentLength };
}

function checkMethod(method: string): void {
  if (method.length === 0) throw malformed("empty :method");
  for (let i = 0; i < method.length; i++) {
    const code = method.charCodeAt(i);
    if (code >= 128 || LOWER_NAME_CHARS[code] === 0) {
      throw malformed(`:method ${JSON.stringify(method)} is not a token`);
    }
  }
}

function checkAuthority(authority: string, field = ":authority"): void {
  if (authority === "") throw malformed(`empty ${field}`);
  if (!AUTHORITY.test(authority)) throw malformed(`${field} "${authority}" is not host[:port]`);
}

function mergeContentLength(previous: number, value: string): number {
  if (!/^[0-9]{1,15}$/.test(value)) throw malformed(`content-length "${value}" is not a number`);
  const length = Number(value);
  if (previous >= 0 && previous !== length) throw malformed("conflicting content-length values");
  return length;
}

/**
 * Validates a trailer section: regular fields only (RFC 9114 §4.3).
 * Request trailers are not exposed through `Request`, so nothing is returned.
 */
export function checkTrailers(fields: readonly string[]): void {
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (name.charCodeAt(0) === 0x3a) throw malformed(`pseudo-header ${name} in trailers`);
    checkFieldName(name);
    checkFieldValue(name, fields[i + 1]);
  }
}

/** Size of a field section as RFC 9114 §4.2.2 counts it (name + value + 32 per field). */
export function fieldSectionSize(fields: readonly string[]): number {
  let size = 0;
  for (let i = 0; i < fields.length; i += 2) size += fields[i].length + fields[i + 1].length + 32;
  return size;
}

const STATUS_TEXT: string[] = [];

/**
 * Response fields for `status` and `headers`: `:status` first, then the
 * headers minus connection-specific ones, which HTTP/3 forbids.
 */
export function responseFields(status: number, headers: Headers): string[] {
  const fields = [":status", STATUS_TEXT[status] ??= String(status)];
  for (const [name, value] of headers) {
    if (CONNECTION_SPECIFIC_FIELDS.has(name)) continue;
    fields.push(name, value);
  }
  return fields;
}
