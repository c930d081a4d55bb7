/**
 * HTTP/3 (RFC 9114) with QPACK (RFC 9204) over Deno's native QUIC.
 * The node's HTTPServer uses {@linkcode serveHttp3}; the codec pieces are
 * exported for tests and tools.
 *
 * @module
 */

export { type Http3Server, type Http3ServerOptions, serveHttp3 } from "./server.ts";
export type { Http3Handler, Http3RequestInfo } from "./request_stream.ts";
export { H3_ERROR, H3ConnectionError, h3ErrorName, H3StreamError } from "./errors.ts";
