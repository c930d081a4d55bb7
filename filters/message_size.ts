/**
 * Sizes of requests and responses for the traffic statistics (`reqSize`,
 * `respSize`), counted as Easegress counts them: the head as HTTP/1.1 would
 * write it (start line, one line per field, the blank line), whatever the
 * protocol that carried it, plus the body.
 *
 * @module
 */

import type { HttpRequest, HttpResponse } from "./context.ts";
import { HeaderFields } from "./header_fields.ts";
import { parseContentLength } from "./proxy/http1_parser.ts";
import { isBodilessStatus, reasonPhrase } from "./status_text.ts";

/** Bytes of `headers` written one field per line. */
function headerLineBytes(headers: Headers): number {
  if (headers instanceof HeaderFields) return headers.lineBytes();
  let bytes = 0;
  headers.forEach((value, name) => bytes += name.length + value.length + 4);
  return bytes;
}

/** A Content-Length's value as a count of bytes, or below 0 when there is none or it is not one. */
function declaredLength(headers: Headers): number {
  const value = headers.get("content-length");
  return value === null ? -1 : parseContentLength(value);
}

/** `proto` as Go's servers spell it, which Easegress reports: "HTTP/2.0" for "HTTP/2". */
export function goProto(proto: string): string {
  return proto === "HTTP/2" ? "HTTP/2.0" : proto === "HTTP/3" ? "HTTP/3.0" : proto;
}

/**
 * The request's size: its head (`METHOD target proto`, its fields, the blank
 * line) and its body by Content-Length, or by the bytes it holds when it
 * has none (a streamed body of unknown length counts 0).
 */
export function requestSize(request: HttpRequest): number {
  const headers = request.rawHeaders;
  const query = request.query;
  const bytes = request.method.length + request.path.length + goProto(request.proto).length + 6 +
    (query === "" ? 0 : query.length + 1) + headerLineBytes(headers);
  return bytes + requestBodySize(request);
}

/**
 * The request's body size: its Content-Length, or the bytes it holds when
 * it has none (a chunked body read whole before the pipeline); 0 for a
 * stream of unknown length. The access log's `rx`.
 */
export function requestBodySize(request: HttpRequest): number {
  const declared = declaredLength(request.rawHeaders);
  if (declared >= 0) return declared;
  // A body not yet made (a stream still to be read) is not made here.
  const held = request.heldBodyLength;
  return held > 0 ? held : 0;
}

/**
 * The answer's body size as sent to `request`: nothing for HEAD and bodiless
 * statuses, else its Content-Length, or the bytes it holds when it has none
 * (a streamed body of unknown length counts 0). The access log's `tx`,
 * but for a streamed body, logged with the bytes that went.
 */
export function responseBodySize(request: HttpRequest, response: HttpResponse): number {
  if (request.method === "HEAD" || isBodilessStatus(response.status)) return 0;
  const declared = declaredLength(response.rawHeaders);
  if (declared >= 0) return declared;
  // A body not yet made (an upstream's stream) is not made here.
  const held = response.heldBodyLength;
  return held > 0 ? held : 0;
}

/** The answer's head size: its status line, its own fields and the blank line. */
export function responseHeadSize(response: HttpResponse): number {
  // "HTTP/1.1 200 OK\r\n", and the blank line.
  return 17 + reasonPhrase(response.status).length + headerLineBytes(response.rawHeaders);
}

/** The answer's size: its head and its body as sent to `request`. */
export function responseSize(request: HttpRequest, response: HttpResponse): number {
  return responseHeadSize(response) + responseBodySize(request, response);
}
