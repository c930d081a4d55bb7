/**
 * A request's header block, decoded, checked as RFC 9113 section 8 asks
 * (pseudo-header fields first and once each, lower-case names, no
 * connection-specific fields) and turned into what the server builds its
 * request from. A malformed block is a stream error (PROTOCOL_ERROR).
 *
 * @module
 */

import { HeaderFields, knownFieldName } from "../../filters/header_fields.ts";
import { parseContentLength } from "../../filters/proxy/http1_parser.ts";
import { H2_ERROR, H2StreamError } from "./frames.ts";
import {
  CONNECTION_SPECIFIC_FIELDS,
  fieldNameProblem,
  fieldValueProblem,
} from "../httpserver/field_rules.ts";

/** What the server needs from a request's header block. */
export interface RequestFields {
  method: string;
  /** Path without the query ("*" for `OPTIONS *`). */
  path: string;
  /** Raw query without "?", "" when absent. */
  query: string;
  /** :authority, else the Host field. */
  host: string;
  /** The regular fields, cookies joined into one. */
  headers: HeaderFields;
  /** Declared content-length, or -1 when there is none. */
  contentLength: number;
}

function malformed(message: string): H2StreamError {
  return new H2StreamError(H2_ERROR.PROTOCOL_ERROR, `malformed request: ${message}`);
}

function checkName(name: string): void {
  // A common name as the table spells it is valid: no char-by-char check.
  if (knownFieldName(name) === name) return;
  const problem = fieldNameProblem(name);
  if (problem !== undefined) throw malformed(problem);
}

/** Returns `value`; throws when it is malformed (see {@linkcode fieldValueProblem}). */
function checkValue(name: string, value: string): string {
  const problem = fieldValueProblem(name, value);
  if (problem !== undefined) throw malformed(problem);
  return value;
}

/**
 * Checks the `count` decoded fields and builds the request from them.
 * Throws {@linkcode H2StreamError} for a malformed block.
 */
export function requestFields(
  names: readonly string[],
  values: readonly string[],
  count: number,
): RequestFields {
  let method = "";
  let scheme = "";
  let target = "";
  let authority = "";
  let i = 0;
  for (; i < count; i++) {
    const name = names[i];
    if (name.charCodeAt(0) !== 58) break; // ':'
    const value = values[i];
    if (name === ":method") {
      if (method !== "") throw malformed("repeated :method");
      method = value;
    } else if (name === ":path") {
      if (target !== "") throw malformed("repeated :path");
      target = value;
    } else if (name === ":scheme") {
      if (scheme !== "") throw malformed("repeated :scheme");
      scheme = value;
    } else if (name === ":authority") {
      if (authority !== "") throw malformed("repeated :authority");
      authority = checkValue(name, value);
    } else {
      throw malformed(`pseudo-header field ${JSON.stringify(name)}`);
    }
  }
  if (method === "") throw malformed("no :method");
  if (method === "CONNECT") throw malformed("CONNECT is not served");
  if (scheme === "") throw malformed("no :scheme");
  if (target === "") throw malformed("no :path");
  const headers = new HeaderFields();
  let host = authority;
  let cookie: string | null = null;
  let contentLength = -1;
  for (; i < count; i++) {
    const name = names[i];
    if (name.charCodeAt(0) === 58) throw malformed(`${name} after regular fields`);
    checkName(name);
    const value = checkValue(name, values[i]);
    if (CONNECTION_SPECIFIC_FIELDS.has(name)) {
      throw malformed(`connection-specific field "${name}"`);
    }
    if (name === "te" && value !== "trailers") throw malformed(`te: ${JSON.stringify(value)}`);
    if (name === "cookie") {
      // Cookie crumbs are joined back into one field (RFC 9113 section 8.2.3).
      cookie = cookie === null ? value : `${cookie}; ${value}`;
      continue;
    }
    if (name === "content-length") {
      const length = parseContentLength(value);
      if (length < 0 || (contentLength >= 0 && length !== contentLength)) {
        throw malformed(`content-length ${JSON.stringify(value)}`);
      }
      contentLength = length;
    } else if (name === "host" && host === "") {
      host = value;
    }
    headers.appendChecked(name, value);
  }
  if (cookie !== null) headers.appendChecked("cookie", cookie);
  if (host !== "" && !headers.has("host")) headers.appendChecked("host", host);
  let path = target;
  let query = "";
  if (target === "*") {
    if (method !== "OPTIONS") throw malformed(`:path "*" with ${method}`);
  } else {
    if (target.charCodeAt(0) !== 47) throw malformed(`:path ${JSON.stringify(target)}`);
    for (let k = 0; k < target.length; k++) {
      const c = target.charCodeAt(k);
      if (c <= 32 || c >= 127) throw malformed(`:path ${JSON.stringify(target)}`);
    }
    const q = target.indexOf("?");
    if (q >= 0) {
      path = target.slice(0, q);
      query = target.slice(q + 1);
    }
  }
  return { method, path, query, host, headers, contentLength };
}
