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
  type BuilderSpec,
  BuilderTemplate,
  failBuild,
  headersField,
  readBuilderSpec,
  RESULT_BUILD_ERR,
  stringField,
} from "./builder.ts";
import { type Context, HttpResponse } from "./context.ts";
import type { FilterEnv, FilterInstance, FilterKind, Logger } from "./filter.ts";

/** The ResponseBuilder spec. */
export type ResponseBuilderSpec = BuilderSpec;

const encoder = new TextEncoder();

function isBodilessStatus(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

/** Builds the response the rendered YAML describes. */
export function buildResponse(info: Record<string, unknown>): HttpResponse {
  const raw = info.statusCode;
  let status = 200;
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== "number" || !Number.isInteger(raw)) {
      throw new Error(`statusCode must be an integer, got ${JSON.stringify(raw)}`);
    }
    status = raw === 0 ? 200 : raw;
  }
  if (status < 200 || status > 599) throw new Error(`invalid status code: ${status}`);
  const headers = headersField(info);
  const text = stringField(info, "body") ?? "";
  const body = isBodilessStatus(status) ? new Uint8Array(0) : encoder.encode(text);
  if (!isBodilessStatus(status) && !headers.has("transfer-encoding")) {
    headers.set("content-length", String(body.byteLength));
  }
  return new HttpResponse(status, headers, body.byteLength ? body : null);
}

/** A copy of `src` sharing its (buffered) body. */
async function copyResponse(src: HttpResponse): Promise<HttpResponse> {
  const body = await src.bytes();
  return new HttpResponse(src.status, new Headers(src.rawHeaders), body);
}

class ResponseBuilder implements FilterInstance {
  readonly #spec: ResponseBuilderSpec;
  readonly #log: Logger;
  readonly #template: BuilderTemplate | undefined;

  constructor(spec: ResponseBuilderSpec, env: FilterEnv) {
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
      return failBuild(ctx, this.#log, "build response", e);
    }
    if (info instanceof Promise) {
      return info.then(
        (i) => this.#apply(ctx, i),
        (e) => failBuild(ctx, this.#log, "build response", e),
      );
    }
    return this.#apply(ctx, info);
  }

  #apply(ctx: Context, info: Record<string, unknown>): string {
    try {
      ctx.response = buildResponse(info);
      return "";
    } catch (e) {
      return failBuild(ctx, this.#log, "build response", e);
    }
  }

  async #copy(ctx: Context, source: string): Promise<string> {
    const src = ctx.namespaces().find(([name]) => name === source)?.[1].response;
    if (!src) {
      return failBuild(ctx, this.#log, "build response", `namespace ${source} has no response`);
    }
    try {
      ctx.response = await copyResponse(src);
      return "";
    } catch (e) {
      return failBuild(ctx, this.#log, "build response", e);
    }
  }
}

/** The ResponseBuilder filter kind. */
export const responseBuilderKind: FilterKind<ResponseBuilderSpec> = {
  kind: "ResponseBuilder",
  description: "Builds the response of the active namespace from a template or another namespace.",
  results: [RESULT_BUILD_ERR],
  validate: readBuilderSpec,
  create: (spec, env) => new ResponseBuilder(spec, env),
};
