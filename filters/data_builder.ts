/**
 * The DataBuilder filter, as in Easegress's later v2 releases: a Go
 * text/template (seeing what the builders' templates see) renders YAML of
 * any shape, kept in the request's data under `dataKey`, where later
 * filters' templates read it as `.data.<dataKey>`. A template that fails
 * gives `buildErr`.
 *
 * @module
 */

import { type AdaptorTemplateSpec, readAdaptorTemplate } from "./adaptor_template.ts";
import { afterRender, BuilderTemplate, failBuild, RESULT_BUILD_ERR } from "./builder.ts";
import type { Context } from "./context.ts";
import type { FilterEnv, FilterInstance, FilterKind, Logger } from "./filter.ts";
import { isPlainObject, SpecReader } from "./spec.ts";
import { PlainScalar } from "./yaml_plain_scalars.ts";

/** The DataBuilder spec, normalized. */
export interface DataBuilderSpec extends AdaptorTemplateSpec {
  /** The key of the request's data the rendered value is kept under. */
  dataKey: string;
}

function validate(raw: Record<string, unknown>): DataBuilderSpec {
  const r = SpecReader.root(raw);
  const dataKey = r.string("dataKey", { required: true });
  if (dataKey === "") r.problem("dataKey", "must not be empty");
  const spec: DataBuilderSpec = { dataKey: dataKey ?? "" };
  readAdaptorTemplate(r, spec);
  if (!spec.template) r.problem("template", "is required");
  r.finish();
  r.throwIfProblems();
  return spec;
}

/** The rendered YAML as plain values: numbers and booleans as such, not as written. */
function plainValue(value: unknown): unknown {
  if (value instanceof PlainScalar) return value.value;
  if (Array.isArray(value)) return value.map(plainValue);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainValue(v);
    return out;
  }
  return value;
}

class DataBuilder implements FilterInstance {
  readonly #dataKey: string;
  readonly #template: BuilderTemplate;
  readonly #log: Logger;

  constructor(spec: DataBuilderSpec, env: FilterEnv) {
    this.#dataKey = spec.dataKey;
    this.#template = new BuilderTemplate({ protocol: "http", ...spec }, env.log);
    this.#log = env.log;
  }

  handle(ctx: Context): string | Promise<string> {
    return afterRender(
      () => this.#template.renderYaml(ctx),
      (parsed) => this.#keep(ctx, parsed),
      (e) => this.#fail(ctx, e),
    );
  }

  #keep(ctx: Context, parsed: unknown): string {
    ctx.data[this.#dataKey] = plainValue(parsed) ?? null;
    return "";
  }

  #fail(ctx: Context, error: unknown): string {
    return failBuild(ctx, this.#log, "build data", error);
  }
}

/** The DataBuilder filter kind. */
export const dataBuilderKind: FilterKind<DataBuilderSpec> = {
  kind: "DataBuilder",
  description: "DataBuilder renders data from a template for later filters' templates.",
  results: [RESULT_BUILD_ERR],
  validate,
  create(spec: DataBuilderSpec, env: FilterEnv): FilterInstance {
    return new DataBuilder(spec, env);
  },
};
