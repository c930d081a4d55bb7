/**
 * The one error type the upstream HTTP/1.1 client throws, tagged by what went
 * wrong so the Proxy filter can map it to a status (502, 504) and a retry
 * decision without parsing messages.
 *
 * @module
 */

/** What kind of upstream failure an {@linkcode UpstreamError} reports. */
export type UpstreamErrorKind = "connect" | "timeout" | "protocol" | "closed" | "body" | "aborted";

/**
 * An upstream exchange failed.
 *
 * - `connect`: the TCP or TLS connection could not be made.
 * - `timeout`: connecting took longer than `connectTimeoutMs`.
 * - `protocol`: the upstream sent something that is not valid HTTP/1.x
 *   (bad status line, header, chunk size, a head over the size limit), or the
 *   request body did not match its declared length.
 * - `closed`: the connection ended before the response was complete, or the
 *   pool was closed.
 * - `body`: a small body read whole before the response is handed over
 *   ended short or failed: the server answered, but its answer cannot be.
 * - `aborted`: the request's signal fired, or its body stream failed.
 */
export class UpstreamError extends Error {
  /** What went wrong; see the class documentation. */
  readonly kind: UpstreamErrorKind;

  constructor(kind: UpstreamErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UpstreamError";
    this.kind = kind;
  }
}
