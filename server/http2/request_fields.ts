/**
 * A request's header block, decoded, checked as RFC 9113 section 8 asks
 * (see {@linkcode RequestFieldCheck}) and turned into what the server
 * builds its request from. A malformed block is a stream error
 * (PROTOCOL_ERROR).
 *
 * @module
 */

import { HeaderFields } from "../../filters/header_fields.ts";
import { H2_ERROR, H2StreamError } from "./frames.ts";
import { RequestFieldCheck } from "../httpserver/request_field_check.ts";
import { trailerFieldProblem } from "../httpserver/field_rules.ts";
import { removeDotSegments } from "../httpserver/dot_segments.ts";

/** What the server needs from a request's header block. */
export interface RequestFields {
  method: string;
  /** Path without the query ("*" for `OPTIONS *`). */
  path: string;
  /** Raw query without "?", "" when absent. */
  query: string;
  /** :path as sent, when it is not `path` and `query` (see HttpRequest.requestURI). */
  requestURI: string | undefined;
  /** :authority, else the Host field. */
  host: string;
  /** The regular fields, cookies joined into one. */
  headers: HeaderFields;
  /** Declared content-length, or -1 when there is none. */
  contentLength: number;
  /** Whether the client waits for a 100 before sending the body. */
  expectContinue: boolean;
}

function malformed(message: string): H2StreamError {
  return new H2StreamError(H2_ERROR.PROTOCOL_ERROR, `malformed request: ${message}`);
}

/**
 * Checks the `count` decoded fields and builds the request from them.
 * Throws {@linkcode H2StreamError} for a malformed block, and for CONNECT,
 * which is not served.
 */
export function requestFields(
  names: readonly string[],
  values: readonly string[],
  count: number,
): RequestFields {
  const check = new RequestFieldCheck(malformed);
  const headers = new HeaderFields();
  for (let i = 0; i < count; i++) {
    const name = names[i];
    const value = values[i];
    if (check.field(name, value)) headers.appendChecked(name, value);
  }
  check.finish();
  const method = check.method;
  if (method === "CONNECT") throw malformed("CONNECT is not served");
  if (check.cookie !== null) headers.appendChecked("cookie", check.cookie);
  const host = check.authority || check.host;
  // The upstream request is HTTP/1.1, which names its host in a field.
  if (check.host === "") headers.appendChecked("host", host);
  const target = check.target;
  const q = target.indexOf("?");
  // Routed and forwarded without its dot segments, as over HTTP/1.1 and HTTP/3.
  const sentPath = q < 0 ? target : target.slice(0, q);
  const path = removeDotSegments(sentPath);
  const query = q < 0 ? "" : target.slice(q + 1);
  return {
    method,
    path,
    query,
    requestURI: path === sentPath ? undefined : target,
    host,
    headers,
    contentLength: check.contentLength,
    expectContinue: check.expectContinue,
  };
}

/**
 * Checks the `count` decoded fields of a trailer block (RFC 9113 section
 * 8.1): a pseudo-field, or a field a head could not carry, makes the request
 * malformed (H2StreamError). Trailers are not passed on, so nothing is kept.
 */
export function checkTrailerFields(
  names: readonly string[],
  values: readonly string[],
  count: number,
): void {
  for (let i = 0; i < count; i++) {
    const problem = trailerFieldProblem(names[i], values[i]);
    if (problem !== undefined) throw malformed(problem);
  }
}
