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
  bodyField,
  type BuilderSpec,
  type BuildTarget,
  defineBuilderKind,
  headersField,
  stringField,
} from "./builder.ts";
import { copyHeaders, HttpRequest } from "./context.ts";
import type { FilterKind } from "./filter.ts";
import { normalizeRulePath } from "./percent_encoding.ts";
import { HTTP_METHODS } from "./request_adaptor.ts";

/** The RequestBuilder spec. */
export type RequestBuilderSpec = BuilderSpec;

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
    headers: copyHeaders(src.rawHeaders),
    body,
  });
}

/**
 * Builds the request the rendered YAML describes. A relative url has no host,
 * as Go's `http.NewRequest` makes it (a Proxy then sends its server's), and
 * keeps `base`'s scheme.
 */
export function buildRequest(
  info: Record<string, unknown>,
  base: HttpRequest | undefined,
): HttpRequest {
  const method = (stringField(info, "method") || "GET").toUpperCase();
  if (!HTTP_METHODS.includes(method)) throw new Error(`invalid method: ${method}`);
  let target = stringField(info, "url") || "/";
  let scheme = base?.scheme ?? "http";
  let host = "";
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
  // Go's url.Parse refuses control characters anywhere; a query goes on the wire as written.
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(path) || /[\s\0]/.test(query)) {
    throw new Error(`invalid url: ${JSON.stringify(stringField(info, "url"))}`);
  }
  // Go takes "/a b/café" as a path, sent escaped; spelled as the server spells request
  // paths (see percent_encoding.ts), it meets the rules of later filters.
  path = normalizeRulePath(path);
  const headers = headersField(info);
  const body = bodyField(info);
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

/** How RequestBuilder makes the active namespace's request. */
const requestTarget: BuildTarget<HttpRequest> = {
  message: "request",
  build(info, ctx) {
    return buildRequest(info, ctx.maybeRequest ?? ctx.getNamespace("DEFAULT").request);
  },
  source: (ns) => ns.request,
  copy: copyRequest,
  set(ctx, request) {
    ctx.request = request;
  },
};

/** The RequestBuilder filter kind. */
export const requestBuilderKind: FilterKind<RequestBuilderSpec> = defineBuilderKind({
  kind: "RequestBuilder",
  description: "Builds the request of the active namespace from a template or another namespace.",
  target: requestTarget,
});
