/**
 * The RequestAdaptor filter: rewrites the request's method, path, headers,
 * body and host, and gzips or gunzips its body.
 *
 * @module
 */

import type { Context } from "./context.ts";
import type { FilterInstance, FilterKind } from "./filter.ts";
import { PathAdaptor, type PathAdaptSpec, readPathAdaptSpec } from "./path_adapt.ts";
import {
  MessageAdaptor,
  type MessageAdaptSpec,
  readCodings,
  readHeaderAndBody,
  RESULT_COMPRESS_FAILED,
  RESULT_DECOMPRESS_FAILED,
} from "./response_adaptor.ts";
import { SpecReader } from "./spec.ts";

export { RESULT_COMPRESS_FAILED, RESULT_DECOMPRESS_FAILED };

/** The RequestAdaptor spec, normalized: unset fields are absent. */
export interface RequestAdaptorSpec extends MessageAdaptSpec {
  /** The new method, upper case. */
  method?: string;
  /** How to rewrite the path. */
  path?: PathAdaptSpec;
  /** The new Host. */
  host?: string;
}

/** Methods Go's `httpmethod` format accepts (RequestBuilder accepts the same). */
export const HTTP_METHODS: readonly string[] = [
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
  readHeaderAndBody(r, spec);
  const host = r.string("host");
  if (host) {
    if (HOST.test(host)) spec.host = host;
    else r.problem("host", `must be a host such as "example.com:8080", got "${host}"`);
  }
  readCodings(r, spec);
  if (r.has("sign")) {
    r.ignore("sign");
    r.problem("sign", "request signing is not supported yet");
  }
  r.finish();
  r.throwIfProblems();
  return spec;
}

class RequestAdaptor implements FilterInstance {
  readonly #method: string | undefined;
  readonly #path: PathAdaptor | undefined;
  readonly #host: string | undefined;
  readonly #adaptor: MessageAdaptor;

  constructor(spec: RequestAdaptorSpec) {
    this.#method = spec.method;
    this.#path = spec.path ? new PathAdaptor(spec.path) : undefined;
    this.#host = spec.host;
    this.#adaptor = new MessageAdaptor(spec);
  }

  handle(ctx: Context): string | Promise<string> {
    const req = ctx.request;
    if (this.#method) req.method = this.#method;
    if (this.#path) req.path = this.#path.adapt(req.path);
    // Host is a field of its own, untouched by the header and body edits.
    if (this.#host) req.host = this.#host;
    return this.#adaptor.apply(req);
  }
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
