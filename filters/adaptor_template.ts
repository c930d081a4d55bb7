/**
 * The `template` of RequestAdaptor and ResponseAdaptor, as Easegress's later
 * v2 releases take it: a Go text/template, seeing what the builders' templates
 * see (`.requests.<NS>`, `.responses.<NS>`, `.data`), rendered for each
 * request into YAML with the adaptor's own fields (`header`, `body`, and for
 * requests `method`, `path`, `host`). Each field it renders takes the place of
 * the spec's, for that request; the others stay as the spec sets them.
 *
 * @module
 */

import {
  afterRender,
  type BuilderSpec,
  BuilderTemplate,
  compileBuilderTemplate,
  failBuild,
  RESULT_BUILD_ERR,
} from "./builder.ts";
import type { Context } from "./context.ts";
import type { Logger } from "./filter.ts";
import { isPlainObject, SpecReader } from "./spec.ts";
import { PlainScalar } from "./yaml_plain_scalars.ts";

export { RESULT_BUILD_ERR };

/** An adaptor's template fields, normalized: unset fields are absent. */
export interface AdaptorTemplateSpec {
  /** A Go text/template rendering YAML of the adaptor's fields. */
  template?: string;
  /** Left action delimiter of `template`. @default {"{{"} */
  leftDelim?: string;
  /** Right action delimiter of `template`. @default {"}}"} */
  rightDelim?: string;
}

function builderSpec(spec: AdaptorTemplateSpec): BuilderSpec {
  return {
    protocol: "http",
    template: spec.template,
    leftDelim: spec.leftDelim,
    rightDelim: spec.rightDelim,
  };
}

/** Reads `template`, `leftDelim` and `rightDelim` into `spec`; a template that does not parse is a problem. */
export function readAdaptorTemplate(r: SpecReader, spec: AdaptorTemplateSpec): void {
  const template = r.string("template");
  const leftDelim = r.string("leftDelim");
  const rightDelim = r.string("rightDelim");
  if (leftDelim) spec.leftDelim = leftDelim;
  if (rightDelim) spec.rightDelim = rightDelim;
  if (!template) return;
  spec.template = template;
  try {
    compileBuilderTemplate(builderSpec(spec));
  } catch (e) {
    r.problem("template", (e as Error).message);
  }
}

/** The rendered YAML with plain numbers and booleans as the text written, as Go reads them into strings. */
function asWritten(value: unknown): unknown {
  if (value instanceof PlainScalar) return value.source;
  if (Array.isArray(value)) return value.map(asWritten);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = asWritten(v);
    return out;
  }
  return value;
}

/**
 * A compiled adaptor template. `adapt` renders it for a request and reads the
 * output with the same reader as the adaptor's spec, so a rendered field is
 * checked as the spec's is (other top-level keys are ignored, as Go's decoder
 * ignores them); any failure is logged, answers 500 when nothing answered yet
 * and gives `buildErr`.
 */
export class AdaptorTemplate<S> {
  readonly #template: BuilderTemplate;
  readonly #read: (r: SpecReader) => S;
  readonly #log: Logger;
  readonly #what: string;

  /** Compiles `spec.template` (which must be set) once, for every request. */
  constructor(
    spec: AdaptorTemplateSpec,
    read: (r: SpecReader) => S,
    log: Logger,
    what: string,
  ) {
    this.#template = new BuilderTemplate(builderSpec(spec), log);
    this.#read = read;
    this.#log = log;
    this.#what = what;
  }

  /** Renders for `ctx`, reads the result and hands it to `apply`; `buildErr` if that fails. */
  adapt(ctx: Context, apply: (rendered: S) => string | Promise<string>): string | Promise<string> {
    return afterRender(
      () => this.#template.render(ctx),
      (info) => this.#apply(ctx, info, apply),
      (e) => this.#fail(ctx, e),
    );
  }

  #apply(
    ctx: Context,
    info: Record<string, unknown>,
    apply: (rendered: S) => string | Promise<string>,
  ): string | Promise<string> {
    let rendered: S;
    try {
      const r = SpecReader.root(asWritten(info));
      rendered = this.#read(r);
      r.throwIfProblems();
    } catch (e) {
      return this.#fail(ctx, e);
    }
    return apply(rendered);
  }

  #fail(ctx: Context, error: unknown): string {
    return failBuild(ctx, this.#log, this.#what, error);
  }
}
