/**
 * The RequestAdaptor filter: rewrites the request's method, path, headers,
 * body and host, and gzips or gunzips its body. A `template` renders, for
 * each request, edits that take the place of the spec's (adaptor_template.ts).
 *
 * @module
 */

import {
  AdaptorTemplate,
  type AdaptorTemplateSpec,
  readAdaptorTemplate,
  RESULT_BUILD_ERR,
} from "./adaptor_template.ts";
import type { Context, HttpRequest } from "./context.ts";
import type { FilterEnv, FilterInstance, FilterKind } from "./filter.ts";
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

export { RESULT_BUILD_ERR, RESULT_COMPRESS_FAILED, RESULT_DECOMPRESS_FAILED };

/** The edits of a RequestAdaptor, from its spec or rendered by its template. */
export interface RequestEdits extends MessageAdaptSpec {
  /** The new method, upper case. */
  method?: string;
  /** How to rewrite the path. */
  path?: PathAdaptSpec;
  /** The new Host. */
  host?: string;
}

/** The RequestAdaptor spec, normalized: unset fields are absent. */
export interface RequestAdaptorSpec extends RequestEdits, AdaptorTemplateSpec {}

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

/** Reads the edits (method, path, header, body, host) at `r` into `spec`. */
function readRequestEdits(r: SpecReader, spec: RequestEdits): RequestEdits {
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
  return spec;
}

function validate(raw: Record<string, unknown>): RequestAdaptorSpec {
  const r = SpecReader.root(raw);
  const spec: RequestAdaptorSpec = {};
  readRequestEdits(r, spec);
  readCodings(r, spec);
  readAdaptorTemplate(r, spec);
  if (r.has("sign")) {
    r.ignore("sign");
    r.problem("sign", "request signing is not supported yet");
  }
  r.finish();
  r.throwIfProblems();
  return spec;
}

class RequestAdaptor implements FilterInstance {
  readonly #spec: RequestAdaptorSpec;
  readonly #method: string | undefined;
  readonly #path: PathAdaptor | undefined;
  readonly #host: string | undefined;
  readonly #adaptor: MessageAdaptor;
  readonly #template: AdaptorTemplate<RequestEdits> | undefined;

  constructor(spec: RequestAdaptorSpec, env: FilterEnv) {
    this.#spec = spec;
    this.#method = spec.method;
    this.#path = spec.path ? new PathAdaptor(spec.path) : undefined;
    this.#host = spec.host;
    this.#adaptor = new MessageAdaptor(spec);
    this.#template = spec.template === undefined ? undefined : new AdaptorTemplate(
      spec,
      (r) => readRequestEdits(r, {}),
      env.log,
      "build request adaptor",
    );
  }

  handle(ctx: Context): string | Promise<string> {
    if (!this.#template) return this.#adapt(ctx.request, this.#method, this.#path, this.#host);
    return this.#template.adapt(ctx, (edits) => {
      const { method, path, host, header, body } = edits;
      // What the template rendered stands for this request; the spec's other edits stay.
      const adaptor = header || body
        ? new MessageAdaptor({
          ...this.#spec,
          header: header ?? this.#spec.header,
          body: body ?? this.#spec.body,
        })
        : this.#adaptor;
      return this.#adapt(
        ctx.request,
        method ?? this.#method,
        path ? new PathAdaptor(path) : this.#path,
        host ?? this.#host,
        adaptor,
      );
    });
  }

  #adapt(
    req: HttpRequest,
    method: string | undefined,
    path: PathAdaptor | undefined,
    host: string | undefined,
    adaptor = this.#adaptor,
  ): string | Promise<string> {
    if (method) req.method = method;
    if (path) {
      req.keepRequestURI();
      req.path = path.adapt(req.path);
    }
    // Host is a field of its own, untouched by the header and body edits.
    if (host) req.host = host;
    return adaptor.apply(req);
  }
}

/** The RequestAdaptor filter kind. */
export const requestAdaptorKind: FilterKind<RequestAdaptorSpec> = {
  kind: "RequestAdaptor",
  description: "RequestAdaptor adapts the request: method, path, headers, body, host, gzip.",
  results: [RESULT_COMPRESS_FAILED, RESULT_DECOMPRESS_FAILED, RESULT_BUILD_ERR],
  validate,
  create(spec: RequestAdaptorSpec, env: FilterEnv): FilterInstance {
    return new RequestAdaptor(spec, env);
  },
};
