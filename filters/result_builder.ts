/**
 * The ResultBuilder filter, as in Easegress's later v2 releases: a Go
 * text/template (seeing what the builders' templates see) renders the
 * filter's result, so a flow's `jumpIf` can branch on anything a template
 * can compute. It renders `result0` to `result9`, or nothing to go on; any
 * other text gives `unknown`, and a template that fails gives `buildErr`.
 *
 * @module
 */

import { type AdaptorTemplateSpec, readAdaptorTemplate } from "./adaptor_template.ts";
import { afterRender, BuilderTemplate, failBuild, RESULT_BUILD_ERR } from "./builder.ts";
import type { Context } from "./context.ts";
import type { FilterEnv, FilterInstance, FilterKind, Logger } from "./filter.ts";
import { SpecReader } from "./spec.ts";
import { PlainScalar } from "./yaml_plain_scalars.ts";

/** The ResultBuilder spec: its template (required) and delimiters. */
export type ResultBuilderSpec = AdaptorTemplateSpec;

/** The results a template may render, as Easegress predefines them. */
export const RESULTS: readonly string[] = Array.from({ length: 10 }, (_, i) => `result${i}`);
/** The template rendered a result that is not one of {@linkcode RESULTS}. */
export const RESULT_UNKNOWN = "unknown";

function validate(raw: Record<string, unknown>): ResultBuilderSpec {
  const r = SpecReader.root(raw);
  const spec: ResultBuilderSpec = {};
  readAdaptorTemplate(r, spec);
  if (!spec.template) r.problem("template", "is required");
  r.finish();
  r.throwIfProblems();
  return spec;
}

/** The rendered YAML as the string Go's decoder reads it into; throws for a list or map. */
function renderedText(parsed: unknown): string {
  if (parsed === null || parsed === undefined) return "";
  if (typeof parsed === "string") return parsed;
  if (parsed instanceof PlainScalar) return parsed.source;
  throw new Error("template output is not a single result name");
}

class ResultBuilder implements FilterInstance {
  readonly #template: BuilderTemplate;
  readonly #log: Logger;

  constructor(spec: ResultBuilderSpec, env: FilterEnv) {
    this.#template = new BuilderTemplate({ protocol: "http", ...spec }, env.log);
    this.#log = env.log;
  }

  handle(ctx: Context): string | Promise<string> {
    return afterRender(
      () => this.#template.renderYaml(ctx),
      (parsed) => this.#result(ctx, parsed),
      (e) => this.#fail(ctx, e),
    );
  }

  #result(ctx: Context, parsed: unknown): string {
    let text: string;
    try {
      text = renderedText(parsed);
    } catch (e) {
      return this.#fail(ctx, e);
    }
    if (text === "" || RESULTS.includes(text)) return text;
    return RESULT_UNKNOWN;
  }

  #fail(ctx: Context, error: unknown): string {
    return failBuild(ctx, this.#log, "build result", error);
  }
}

/** The ResultBuilder filter kind. */
export const resultBuilderKind: FilterKind<ResultBuilderSpec> = {
  kind: "ResultBuilder",
  description: "ResultBuilder renders the filter's result from a template.",
  results: [...RESULTS, RESULT_BUILD_ERR, RESULT_UNKNOWN],
  validate,
  create(spec: ResultBuilderSpec, env: FilterEnv): FilterInstance {
    return new ResultBuilder(spec, env);
  },
};
