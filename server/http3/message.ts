/**
 * HTTP semantics on top of decoded field sections: validating a request's
 * header section (RFC 9114 §4.2, §4.3.1) into a URL, method and `Headers`,
 * validating trailers, and turning a `Response` into response fields.
 * Anything malformed is an H3StreamError of type H3_MESSAGE_ERROR.
 *
 * @module
 */

import { H3_ERROR, H3StreamError } from "./errors.ts";
import { CONNECTION_SPECIFIC_FIELDS, trailerFieldProblem } from "../httpserver/field_rules.ts";
import { RequestFieldCheck } from "../httpserver/request_field_check.ts";
import { urlAuthority } from "../httpserver/host_name.ts";
import { httpDate } from "../httpserver/http1/response_head.ts";

/** What the request header section says, ready for building a `Request`. */
export interface RequestHead {
  /** The :method value. */
  method: string;
  /** `scheme://authority/path` from the pseudo-header fields. */
  url: string;
  /**
   * :path as the client sent it, query included ("*" for `OPTIONS *`). The
   * URL spells it as WHATWG parsing does: a backslash as "/", `{` and a
   * query's `'` escaped, `OPTIONS *` as "/*".
   */
  target: string;
  /** Regular header fields, cookies joined with "; " (RFC 9114 §4.2.1). */
  headers: Headers;
  /** Declared content-length, or -1 when there is none. */
  contentLength: number;
  /** Whether the client waits for a 100 before sending the body. */
  expectContinue: boolean;
}

function malformed(message: string): H3StreamError {
  return new H3StreamError(H3_ERROR.MESSAGE_ERROR, message);
}

/**
 * Validates a decoded request header section (flat name/value list) and
 * returns its parts. CONNECT requests are returned as such (method
 * "CONNECT", url built from :authority) for the caller to refuse.
 */
export function parseRequestHead(fields: readonly string[]): RequestHead {
  const check = new RequestFieldCheck(malformed);
  const headers = new Headers();
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (check.field(name, value)) headers.append(name, value);
  }
  check.finish();
  if (check.cookie !== null) headers.set("cookie", check.cookie);
  const { method, contentLength, expectContinue } = check;
  if (method === "CONNECT") {
    return {
      method,
      url: `https://${urlAuthority(check.authority)}/`,
      target: "/",
      headers,
      contentLength,
      expectContinue,
    };
  }
  // `OPTIONS *` has no URL of its own: it is served as "/*".
  const path = check.target === "*" ? "/*" : check.target;
  return {
    method,
    url: `${check.scheme}://${urlAuthority(check.authority || check.host)}${path}`,
    target: check.target,
    headers,
    contentLength,
    expectContinue,
  };
}

/**
 * Validates a trailer section: regular fields only, each valid as a head's
 * (RFC 9114 §4.1.2, §4.2). Request trailers are not exposed through
 * `Request`, so nothing is returned.
 */
export function checkTrailers(fields: readonly string[]): void {
  for (let i = 0; i < fields.length; i += 2) {
    const problem = trailerFieldProblem(fields[i], fields[i + 1]);
    if (problem !== undefined) throw malformed(problem);
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
 * headers minus connection-specific ones, which HTTP/3 forbids, and a Date
 * when they have none (RFC 9110 section 6.6.1), as HTTP/1.1 and HTTP/2
 * answers get.
 */
export function responseFields(status: number, headers: Headers): string[] {
  const fields = [":status", STATUS_TEXT[status] ??= String(status)];
  let hasDate = false;
  for (const [name, value] of headers) {
    if (CONNECTION_SPECIFIC_FIELDS.has(name)) continue;
    if (name === "date") hasDate = true;
    fields.push(name, value);
  }
  if (!hasDate) fields.push("date", httpDate());
  return fields;
}
