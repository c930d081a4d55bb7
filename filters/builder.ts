/**
 * What RequestBuilder and ResponseBuilder share: the spec (`protocol`,
 * `sourceNamespace` XOR `template`, `leftDelim`/`rightDelim`), compiling the
 * template with sprig and Easegress's functions, rendering it against the
 * context and reading the rendered YAML, and failing a build the same way.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import { BODY_FIELDS, prepareBuilderData } from "./builder_data.ts";
import { type Context, HttpResponse } from "./context.ts";
import type { Logger } from "./filter.ts";
import { headerNameProblem, headerValueProblem, toHeaderValue } from "./header_adapt.ts";
import { isPlainObject, SpecReader } from "./spec.ts";
import { easegressFunctions } from "./template/easegress_funcs.ts";
import { compileTemplate, type Template } from "./template/mod.ts";
import { sprigFunctions } from "./template/sprig.ts";

/** The only result a builder returns: the build failed (a 500 response is set if none). */
export const RESULT_BUILD_ERR = "buildErr";

/** A RequestBuilder / ResponseBuilder spec, normalized. */
export interface BuilderSpec {
  /** The protocol of what is built. @default {"http"} */
  protocol: "http";
  /** Copy this namespace's request (or response) instead of rendering a template. */
  sourceNamespace?: string;
  /** A Go text/template whose output is YAML describing what to build. */
  template?: string;
  /** Left action delimiter of `template`. @default {"{{"} */
  leftDelim?: string;
  /** Right action delimiter of `template`. @default {"}}"} */
  rightDelim?: string;
}

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Compiles a builder's template with sprig and Easegress's functions (`log` writes to `log`). */
export function compileBuilderTemplate(spec: BuilderSpec, log: Logger = SILENT): Template {
  return compileTemplate(spec.template ?? "", {
    leftDelim: spec.leftDelim,
    rightDelim: spec.rightDelim,
    funcs: { ...sprigFunctions(), ...easegressFunctions(log) },
  });
}

/** Reads and checks a builder spec; the template is compiled to report syntax errors with positions. */
export function readBuilderSpec(raw: Record<string, unknown>): BuilderSpec {
  const r = SpecReader.root(raw);
  const protocol = r.string("protocol", { default: "http", oneOf: ["http"] }) as "http";
  const spec: BuilderSpec = { protocol };
  const sourceNamespace = r.string("sourceNamespace");
  const template = r.string("template");
  const leftDelim = r.string("leftDelim");
  const rightDelim = r.string("rightDelim");
  r.finish();
  if (sourceNamespace && template) {
    r.problem("sourceNamespace", "cannot be used together with template (set exactly one)");
  } else if (!sourceNamespace && !template) {
    r.problem("template", "is required (or set sourceNamespace)");
  }
  if (sourceNamespace) spec.sourceNamespace = sourceNamespace;
  if (template) spec.template = template;
  if (leftDelim) spec.leftDelim = leftDelim;
  if (rightDelim) spec.rightDelim = rightDelim;
  if (template && !r.problems.length) {
    try {
      compileBuilderTemplate(spec);
    } catch (e) {
      r.problem("template", (e as Error).message);
    }
  }
  r.throwIfProblems();
  return spec;
}

/** A compiled builder template that renders a context into parsed YAML. */
export class BuilderTemplate {
  readonly #template: Template;
  readonly #readBodies: boolean;

  constructor(spec: BuilderSpec, log: Logger) {
    this.#template = compileBuilderTemplate(spec, log);
    // Bodies are read only when the template can reach them by name.
    this.#readBodies = BODY_FIELDS.some((f) => this.#template.usesField(f));
  }

  /** Renders the template for `ctx` and parses the output as a YAML mapping. */
  render(ctx: Context): Record<string, unknown> | Promise<Record<string, unknown>> {
    const data = prepareBuilderData(ctx, { readBodies: this.#readBodies });
    if (data instanceof Promise) return data.then((d) => this.#finish(d));
    return this.#finish(data);
  }

  #finish(data: unknown): Record<string, unknown> {
    const text = this.#template.execute(data);
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (e) {
      throw new Error(`template output is not valid YAML: ${(e as Error).message}`);
    }
    if (parsed === null || parsed === undefined) return {};
    if (!isPlainObject(parsed)) throw new Error("template output is not a YAML mapping");
    return parsed;
  }
}

/** Reads a scalar field of the rendered YAML as a string (numbers and booleans as written). */
export function stringField(info: Record<string, unknown>, field: string): string | undefined {
  const v = info[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw new Error(`${field} must be a string`);
}

/** Reads the rendered `headers` (name to list of values) into web Headers. */
export function headersField(info: Record<string, unknown>): Headers {
  const headers = new Headers();
  const raw = info.headers;
  if (raw === undefined || raw === null) return headers;
  if (!isPlainObject(raw)) throw new Error("headers must be a map of header name to values");
  for (const [name, values] of Object.entries(raw)) {
    const problem = headerNameProblem(name);
    if (problem) throw new Error(`headers: ${problem}`);
    const list = Array.isArray(values) ? values : values === null ? [] : [values];
    for (const v of list) {
      if (typeof v === "object" && v !== null) {
        throw new Error(`headers.${name}: values must be strings`);
      }
      const text = String(v);
      const valueProblem = headerValueProblem(text);
      if (valueProblem) throw new Error(`headers.${name}: ${valueProblem}`);
      headers.append(name, toHeaderValue(text));
    }
  }
  return headers;
}

/** Logs a failed build, answers 500 when nothing answered yet, and returns `buildErr`. */
export function failBuild(ctx: Context, log: Logger, what: string, error: unknown): string {
  log.error(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  if (!ctx.response) ctx.response = new HttpResponse(500, { "content-length": "0" });
  return RESULT_BUILD_ERR;
}
