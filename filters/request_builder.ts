/**
 * The RequestBuilder filter: builds the active namespace's request, either
 * by copying another namespace's request (`sourceNamespace`) or from a Go
 * text/template whose output is YAML:
 *
 * ```yaml
 * method: POST            # default GET; upper-cased; a standard method
 * url: /path?query        # default "/"
 * headers: {X-A: [v1]}    # name -> list of values
 * body: text
 * ```
 *
 * The template sees `.requests.<NS>`, `.responses.<NS>`, `.data` (see
 * builder_data.ts). Any failure is logged, answers 500 if nothing answered
 * yet, and returns `buildErr`; the filter never throws.
 *
 * @module
 */

import {
  type BuilderSpec,
  BuilderTemplate,
  failBuild,
  headersField,
  readBuilderSpec,
  RESULT_BUILD_ERR,
  stringField,
} from "./builder.ts";
import { type Context, HttpRequest } from "./context.ts";
import type { FilterEnv, FilterInstance, FilterKind, Logger } from "./filter.ts";

/** The RequestBuilder spec. */
export type RequestBuilderSpec = BuilderSpec;

const STANDARD_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
]);
const encoder = new TextEncoder();

/** A copy of `src` sharing its (buffered) body, so both namespaces can send it. */
async function copyRequest(src: HttpRequest): Promise<HttpRequest> {
  const body = await src.bytes();
  return new HttpRequest({
    method: src.method,
    path: src.path,
    query: src.query,
    scheme: src.scheme,
    host: src.host,
    proto: src.proto,
    headers: new Headers(src.rawHeaders),
    body,
  });
}

/** Builds the request the rendered YAML describes; scheme and host come from `base` unless the url is absolute. */
export function buildRequest(
  info: Record<string, unknown>,
  base: HttpRequest | undefined,
): HttpRequest {
  const method = (stringField(info, "method") || "GET").toUpperCase();
  if (!STANDARD_METHODS.has(method)) throw new Error(`invalid method: ${method}`);
  let target = stringField(info, "url") || "/";
  let scheme = base?.scheme ?? "http";
  let host = base?.host ?? "";
  const absolute = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(target);
  if (absolute) {
    scheme = absolute[1].toLowerCase();
    host = absolute[2];
    target = absolute[3] || "/";
  }
  const hash = target.indexOf("#");
  if (hash >= 0) target = target.slice(0, hash);
  const q = target.indexOf("?");
  let path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? "" : target.slice(q + 1);
  if (!path.startsWith("/")) path = "/" + path;
  if (/[\s\0]/.test(path + query)) {
    throw new Error(`invalid url: ${JSON.stringify(stringField(info, "url"))}`);
  }
  const headers = headersField(info);
  const text = stringField(info, "body") ?? "";
  const body = encoder.encode(text);
  if (body.byteLength && !headers.has("content-length") && !headers.has("transfer-encoding")) {
    headers.set("content-length", String(body.byteLength));
  }
  return new HttpRequest({
    method,
    path,
    query,
    scheme,
    host,
    proto: base?.proto ?? "HTTP/1.1",
    headers,
    body: body.byteLength ? body : null,
  });
}

class RequestBuilder implements FilterInstance {
  readonly #spec: RequestBuilderSpec;
  readonly #log: Logger;
  readonly #template: BuilderTemplate | undefined;

  constructor(spec: RequestBuilderSpec, env: FilterEnv) {
    this.#spec = spec;
    this.#log = env.log;
    this.#template = spec.template === undefined ? undefined : new BuilderTemplate(spec, env.log);
  }

  handle(ctx: Context): string | Promise<string> {
    if (!this.#template) return this.#copy(ctx, this.#spec.sourceNamespace!);
    let info: Record<string, unknown> | Promise<Record<string, unknown>>;
    try {
      info = this.#template.render(ctx);
    } catch (e) {
      return failBuild(ctx, this.#log, "build request", e);
    }
    if (info instanceof Promise) {
      return info.then(
        (i) => this.#apply(ctx, i),
        (e) => failBuild(ctx, this.#log, "build request", e),
      );
    }
    return this.#apply(ctx, info);
  }

  #apply(ctx: Context, info: Record<string, unknown>): string {
    try {
      const base = ctx.maybeRequest ?? ctx.getNamespace("DEFAULT").request;
      ctx.request = buildRequest(info, base);
      return "";
    } catch (e) {
      return failBuild(ctx, this.#log, "build request", e);
    }
  }

  async #copy(ctx: Context, source: string): Promise<string> {
    const src = ctx.namespaces().find(([name]) => name === source)?.[1].request;
    if (!src) {
      return failBuild(ctx, this.#log, "build request", `namespace ${source} has no request`);
    }
    try {
      ctx.request = await copyRequest(src);
      return "";
    } catch (e) {
      return failBuild(ctx, this.#log, "build request", e);
    }
  }
}

/** The RequestBuilder filter kind. */
export const requestBuilderKind: FilterKind<RequestBuilderSpec> = {
  kind: "RequestBuilder",
  description: "Builds the request of the active namespace from a template or another namespace.",
  results: [RESULT_BUILD_ERR],
  validate: readBuilderSpec,
  create: (spec, env) => new RequestBuilder(spec, env),
};
