/**
 * The ResponseAdaptor filter: changes the active namespace's response
 * headers and body, and gzips or gunzips its body.
 *
 * @module
 */

import type { Context, HttpResponse } from "./context.ts";
import type { FilterInstance, FilterKind } from "./filter.ts";
import { fixContentLength, gunzipMessage, gzipMessage, readGzipField } from "./gzip.ts";
import { HeaderAdaptor, type HeaderAdaptSpec, readHeaderAdaptSpec } from "./header_adapt.ts";
import { SpecReader } from "./spec.ts";

/** The ResponseAdaptor spec, normalized: unset fields are absent. */
export interface ResponseAdaptorSpec {
  /** How to change headers (del, then set, then add). */
  header?: HeaderAdaptSpec;
  /** A new body; Content-Encoding is removed and Content-Length set. */
  body?: string;
  /** gzip the body unless it already has a Content-Encoding. */
  compress?: "gzip";
  /** gunzip the body when its Content-Encoding is gzip. */
  decompress?: "gzip";
}

/** The active namespace has no response to adapt. */
export const RESULT_RESPONSE_NOT_FOUND = "responseNotFound";
/** The response body could not be gzipped. */
export const RESULT_COMPRESS_FAILED = "compressFailed";
/** The response said gzip but its body is not valid gzip. */
export const RESULT_DECOMPRESS_FAILED = "decompressFailed";

function validate(raw: Record<string, unknown>): ResponseAdaptorSpec {
  const r = SpecReader.root(raw);
  const spec: ResponseAdaptorSpec = {};
  const header = r.object("header", readHeaderAdaptSpec);
  if (header && Object.keys(header).length) spec.header = header;
  const body = r.string("body");
  if (body) spec.body = body;
  const compress = readGzipField(r, "compress");
  const decompress = readGzipField(r, "decompress");
  if (compress) spec.compress = compress;
  if (decompress) spec.decompress = decompress;
  if (compress && decompress) r.problem("decompress", "cannot be set together with compress");
  if (body && decompress) {
    r.problem("decompress", "cannot be set together with body (the new body is not compressed)");
  }
  r.finish();
  r.throwIfProblems();
  return spec;
}

const encoder = new TextEncoder();

class ResponseAdaptor implements FilterInstance {
  readonly #header: HeaderAdaptor | undefined;
  readonly #body: Uint8Array | undefined;
  readonly #compress: boolean;
  readonly #decompress: boolean;

  constructor(spec: ResponseAdaptorSpec) {
    this.#header = spec.header ? new HeaderAdaptor(spec.header) : undefined;
    this.#body = spec.body ? encoder.encode(spec.body) : undefined;
    this.#compress = spec.compress === "gzip";
    this.#decompress = spec.decompress === "gzip";
  }

  handle(ctx: Context): string | Promise<string> {
    const resp = ctx.response;
    if (!resp) return RESULT_RESPONSE_NOT_FOUND;
    if (this.#header) this.#header.apply(resp.headers);
    if (this.#body) {
      // Easegress leaves Content-Length stale here; a correct one is what clients need.
      // The bytes are shared by every response: bodies are replaced, never written into.
      resp.body = this.#body;
      resp.headers.delete("content-encoding");
      fixContentLength(resp);
    }
    if (this.#compress) return compress(resp);
    if (this.#decompress) return decompress(resp);
    return "";
  }
}

async function compress(resp: HttpResponse): Promise<string> {
  return await gzipMessage(resp) ? "" : RESULT_COMPRESS_FAILED;
}

async function decompress(resp: HttpResponse): Promise<string> {
  return await gunzipMessage(resp) ? "" : RESULT_DECOMPRESS_FAILED;
}

/** The ResponseAdaptor filter kind. */
export const responseAdaptorKind: FilterKind<ResponseAdaptorSpec> = {
  kind: "ResponseAdaptor",
  description: "ResponseAdaptor adapts the response: headers, body, gzip.",
  results: [RESULT_RESPONSE_NOT_FOUND, RESULT_COMPRESS_FAILED, RESULT_DECOMPRESS_FAILED],
  validate,
  create(spec: ResponseAdaptorSpec): FilterInstance {
    return new ResponseAdaptor(spec);
  },
};
