/**
 * The ResponseBuilder filter: builds the active namespace's response,
 * either by copying another namespace's response (`sourceNamespace`) or
 * from a Go text/template whose output is YAML:
 *
 * ```yaml
 * statusCode: 200         # default 200; 200..599
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
} from "./builder.ts";
import { PlainScalar } from "./yaml_plain_scalars.ts";
import { copyHeaders, HttpResponse } from "./context.ts";
import { isBodilessStatus } from "./status_text.ts";
import type { FilterKind } from "./filter.ts";

/** The ResponseBuilder spec. */
export type ResponseBuilderSpec = BuilderSpec;

/** Builds the response the rendered YAML describes. */
export function buildResponse(info: Record<string, unknown>): HttpResponse {
  const raw = info.statusCode instanceof PlainScalar ? info.statusCode.value : info.statusCode;
  let status = 200;
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== "number" || !Number.isInteger(raw)) {
      throw new Error(`statusCode must be an integer, got ${JSON.stringify(raw)}`);
    }
    status = raw === 0 ? 200 : raw;
  }
  if (status < 200 || status > 599) throw new Error(`invalid status code: ${status}`);
  const headers = headersField(info);
  const bytes = bodyField(info);
  const body = isBodilessStatus(status) ? new Uint8Array(0) : bytes;
  if (!isBodilessStatus(status) && !headers.has("transfer-encoding")) {
    headers.set("content-length", String(body.byteLength));
  }
  return new HttpResponse(status, headers, body.byteLength ? body : null);
}

/** A copy of `src` sharing its (buffered) body. */
async function copyResponse(src: HttpResponse): Promise<HttpResponse> {
  const body = await src.bytes();
  return new HttpResponse(src.status, copyHeaders(src.rawHeaders), body);
}

/** How ResponseBuilder makes the active namespace's response. */
const responseTarget: BuildTarget<HttpResponse> = {
  message: "response",
  build: (info) => buildResponse(info),
  source: (ns) => ns.response,
  copy: copyResponse,
  set(ctx, response) {
    ctx.response = response;
  },
};

/** The ResponseBuilder filter kind. */
export const responseBuilderKind: FilterKind<ResponseBuilderSpec> = defineBuilderKind({
  kind: "ResponseBuilder",
  description: "Builds the response of the active namespace from a template or another namespace.",
  target: responseTarget,
});
