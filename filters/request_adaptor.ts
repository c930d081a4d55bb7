/**
 * The RequestAdaptor filter: rewrites the request's method, path, headers,
 * body and host, and gzips or gunzips its body.
 *
 * @module
 */

import type { Context, HttpRequest } from "./context.ts";
import type { FilterInstance, FilterKind } from "./filter.ts";
import { fixContentLength, gunzipMessage, gzipMessage, readGzipField } from "./gzip.ts";
import { HeaderAdaptor, type HeaderAdaptSpec, readHeaderAdaptSpec } from "./header_adapt.ts";
import { PathAdaptor, type PathAdaptSpec, readPathAdaptSpec } from "./path_adapt.ts";
import { SpecReader } from "./spec.ts";

/** The RequestAdaptor spec, normalized: unset fields are absent. */
export interface RequestAdaptorSpec {
  /** The new method, upper case. */
  method?: string;
  /** How to rewrite the path. */
  path?: PathAdaptSpec;
  /** How to change headers (del, then set, then add). */
  header?: HeaderAdaptSpec;
  /** A new body; Content-Encoding is removed and Content-Length set. */
  body?: string;
  /** The new Host. */
  host?: string;
  /** gzip the body unless it already has a Content-Encoding. */
  compress?: "gzip";
  /** gunzip the body when its Content-Encoding is gzip. */
  decompress?: "gzip";
}

/** The request body could not be gzipped. */
export const RESULT_COMPRESS_FAILED = "compressFailed";
/** The request said gzip but its body is not valid gzip. */
export const RESULT_DECOMPRESS_FAILED = "decompressFailed";

/** Methods Go's `httpmethod` format accepts. */
const HTTP_METHODS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
];
// A host, optionally with a port: no spaces, slashes, query, fragment or userinfo.
const HOST = /^[^\s/?#@]+$/;

function validate(raw: Record<string, unknown>): RequestAdaptorSpec {
  const r = SpecReader.root(raw);
  const spec: RequestAdaptorSpec = {};
  const method = r.string("method");
  if (method) {
    if (HTTP_METHODS.includes(method)) spec.method = method;
    else r.problem("method", `must be one of ${HTTP_METHODS.join(", ")}, got "${method}"`);
  }
  const path = r.object("path", readPathAdaptSpec);
  if (path && Object.keys(path).length) spec.path = path;
  const header = r.object("header", readHeaderAdaptSpec);
  if (header && Object.keys(header).length) spec.header = header;
  const body = r.string("body");
  if (body) spec.body = body;
  const host = r.string("host");
  if (host) {
    if (HOST.test(host)) spec.host = host;
    else r.problem("host", `must be a host such as "example.com:8080", got "${host}"`);
  }
  const compress = readGzipField(r, "compress");
  const decompress = readGzipField(r, "decompress");
  if (compress) spec.compress = compress;
  if (decompress) spec.decompress = decompress;
  if (compress && decompress) r.problem("decompress", "cannot be set together with compress");
  if (body && decompress) {
    r.problem("decompress", "cannot be set together with body (the new body is not compressed)");
  }
  if (r.has("sign")) {
    r.ignore("sign");
    r.problem("sign", "request signing is not supported yet");
  }
  r.finish();
  r.throwIfProblems();
  return spec;
}

const encoder = new TextEncoder();

class RequestAdaptor implements FilterInstance {
  readonly #method: string | undefined;
  readonly #path: PathAdaptor | undefined;
  readonly #header: HeaderAdaptor | undefined;
  readonly #body: Uint8Array | undefined;
  readonly #host: string | undefined;
  readonly #compress: boolean;
  readonly #decompress: boolean;

  constructor(spec: RequestAdaptorSpec) {
    this.#method = spec.method;
    this.#path = spec.path ? new PathAdaptor(spec.path) : undefined;
    this.#header = spec.header ? new HeaderAdaptor(spec.header) : undefined;
    this.#body = spec.body ? encoder.encode(spec.body) : undefined;
    this.#host = spec.host;
    this.#compress = spec.compress === "gzip";
    this.#decompress = spec.decompress === "gzip";
  }

  handle(ctx: Context): string | Promise<string> {
    const req = ctx.request;
    if (this.#method) req.method = this.#method;
    if (this.#path) req.path = this.#path.adapt(req.path);
    if (this.#header) this.#header.apply(req.headers);
    if (this.#body) {
      // The bytes are shared by every request: bodies are replaced, never written into.
      req.body = this.#body;
      req.headers.delete("content-encoding");
      fixContentLength(req);
    }
    if (this.#host) req.host = this.#host;
    if (this.#compress) return compress(req);
    if (this.#decompress) return decompress(req);
    return "";
  }
}

async function compress(req: HttpRequest): Promise<string> {
  return await gzipMessage(req) ? "" : RESULT_COMPRESS_FAILED;
}

async function decompress(req: HttpRequest): Promise<string> {
  return await gunzipMessage(req) ? "" : RESULT_DECOMPRESS_FAILED;
}

/** The RequestAdaptor filter kind. */
export const requestAdaptorKind: FilterKind<RequestAdaptorSpec> = {
  kind: "RequestAdaptor",
  description: "RequestAdaptor adapts the request: method, path, headers, body, host, gzip.",
  results: [RESULT_COMPRESS_FAILED, RESULT_DECOMPRESS_FAILED],
  validate,
  create(spec: RequestAdaptorSpec): FilterInstance {
    return new RequestAdaptor(spec);
  },
};
