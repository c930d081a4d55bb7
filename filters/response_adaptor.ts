/**
 * The ResponseAdaptor filter: changes the active namespace's response
 * headers and body, and gzips or gunzips its body. A `template` renders, for
 * each response, edits that take the place of the spec's (adaptor_template.ts).
 *
 * The same edits, applied to a request, are part of RequestAdaptor, which
 * reuses {@linkcode MessageAdaptor} and its spec readers from here.
 *
 * @module
 */

import {
  AdaptorTemplate,
  type AdaptorTemplateSpec,
  readAdaptorTemplate,
  RESULT_BUILD_ERR,
} from "./adaptor_template.ts";
import type { Context, HttpRequest, HttpResponse } from "./context.ts";
import type { FilterEnv, FilterInstance, FilterKind } from "./filter.ts";
import { fixContentLength, gunzipMessage, gzipMessage, readGzipField } from "./gzip.ts";
import { HeaderAdaptor, type HeaderAdaptSpec, readHeaderAdaptSpec } from "./header_adapt.ts";
import { SpecReader } from "./spec.ts";

/** The edits both adaptors make to a message, normalized: unset fields are absent. */
export interface MessageAdaptSpec {
  /** How to change headers (del, then set, then add). */
  header?: HeaderAdaptSpec;
  /** A new body; Content-Encoding is removed and Content-Length set. */
  body?: string;
  /** gzip the body unless it already has a Content-Encoding. */
  compress?: "gzip";
  /** gunzip the body when its Content-Encoding is gzip. */
  decompress?: "gzip";
}

/** The ResponseAdaptor spec, normalized: unset fields are absent. */
export interface ResponseAdaptorSpec extends MessageAdaptSpec, AdaptorTemplateSpec {}

/** The active namespace has no response to adapt. */
export const RESULT_RESPONSE_NOT_FOUND = "responseNotFound";
/** The message body could not be gzipped. */
export const RESULT_COMPRESS_FAILED = "compressFailed";
/** The message said gzip but its body is not valid gzip. */
export const RESULT_DECOMPRESS_FAILED = "decompressFailed";

/** Reads `header` and `body` into `spec`. */
export function readHeaderAndBody(r: SpecReader, spec: MessageAdaptSpec): void {
  const header = r.object("header", readHeaderAdaptSpec);
  if (header && Object.keys(header).length) spec.header = header;
  const body = r.string("body");
  if (body) spec.body = body;
}

/** Reads `compress` and `decompress` into `spec`; call after {@linkcode readHeaderAndBody}. */
export function readCodings(r: SpecReader, spec: MessageAdaptSpec): void {
  const compress = readGzipField(r, "compress");
  const decompress = readGzipField(r, "decompress");
  if (compress) spec.compress = compress;
  if (decompress) spec.decompress = decompress;
  if (compress && decompress) r.problem("decompress", "cannot be set together with compress");
  if (spec.body && decompress) {
    r.problem("decompress", "cannot be set together with body (the new body is not compressed)");
  }
}

function validate(raw: Record<string, unknown>): ResponseAdaptorSpec {
  const r = SpecReader.root(raw);
  const spec: ResponseAdaptorSpec = {};
  readHeaderAndBody(r, spec);
  readCodings(r, spec);
  readAdaptorTemplate(r, spec);
  r.finish();
  r.throwIfProblems();
  return spec;
}

const encoder = new TextEncoder();

/** Applies a {@linkcode MessageAdaptSpec} to requests or responses. */
export class MessageAdaptor {
  readonly #header: HeaderAdaptor | undefined;
  readonly #body: Uint8Array | undefined;
  readonly #compress: boolean;
  readonly #decompress: boolean;

  /** Prepares the header edits and encodes the new body once, for every message. */
  constructor(spec: MessageAdaptSpec) {
    this.#header = spec.header ? new HeaderAdaptor(spec.header) : undefined;
    this.#body = spec.body ? encoder.encode(spec.body) : undefined;
    this.#compress = spec.compress === "gzip";
    this.#decompress = spec.decompress === "gzip";
  }

  /** Changes headers, then the body, then gzips or gunzips; returns "" or a failure result. */
  apply(message: HttpRequest | HttpResponse): string | Promise<string> {
    if (this.#header) this.#header.apply(message.headers);
    if (this.#body) {
      // Easegress leaves Content-Length stale here; a correct one is what clients need.
      // The bytes are shared by every message: bodies are replaced, never written into.
      message.body = this.#body;
      message.headers.delete("content-encoding");
      fixContentLength(message);
    }
    if (this.#compress) return compress(message);
    if (this.#decompress) return decompress(message);
    return "";
  }
}

async function compress(message: HttpRequest | HttpResponse): Promise<string> {
  return await gzipMessage(message) ? "" : RESULT_COMPRESS_FAILED;
}

async function decompress(message: HttpRequest | HttpResponse): Promise<string> {
  return await gunzipMessage(message) ? "" : RESULT_DECOMPRESS_FAILED;
}

class ResponseAdaptor implements FilterInstance {
  readonly #spec: ResponseAdaptorSpec;
  readonly #adaptor: MessageAdaptor;
  readonly #template: AdaptorTemplate<MessageAdaptSpec> | undefined;

  constructor(spec: ResponseAdaptorSpec, env: FilterEnv) {
    this.#spec = spec;
    this.#adaptor = new MessageAdaptor(spec);
    this.#template = spec.template === undefined ? undefined : new AdaptorTemplate(
      spec,
      (r) => {
        const edits: MessageAdaptSpec = {};
        readHeaderAndBody(r, edits);
        return edits;
      },
      env.log,
      "build response adaptor",
    );
  }

  handle(ctx: Context): string | Promise<string> {
    const resp = ctx.response;
    if (!resp) return RESULT_RESPONSE_NOT_FOUND;
    if (!this.#template) return this.#adaptor.apply(resp);
    return this.#template.adapt(ctx, ({ header, body }) => {
      if (!header && !body) return this.#adaptor.apply(resp);
      // What the template rendered stands for this response; the spec's other edits stay.
      const spec = this.#spec;
      return new MessageAdaptor({ ...spec, header: header ?? spec.header, body: body ?? spec.body })
        .apply(resp);
    });
  }
}

/** The ResponseAdaptor filter kind. */
export const responseAdaptorKind: FilterKind<ResponseAdaptorSpec> = {
  kind: "ResponseAdaptor",
  description: "ResponseAdaptor adapts the response: headers, body, gzip.",
  results: [
    RESULT_RESPONSE_NOT_FOUND,
    RESULT_COMPRESS_FAILED,
    RESULT_DECOMPRESS_FAILED,
    RESULT_BUILD_ERR,
  ],
  validate,
  create(spec: ResponseAdaptorSpec, env: FilterEnv): FilterInstance {
    return new ResponseAdaptor(spec, env);
  },
};
