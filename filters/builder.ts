/**
 * What RequestBuilder and ResponseBuilder share: the spec (`protocol`,
 * `sourceNamespace` XOR `template`, `leftDelim`/`rightDelim`), compiling the
 * template with sprig and Easegress's functions, rendering it against the
 * context and reading the rendered YAML, failing a build the same way, and
 * the filter instance itself: each kind is made by {@linkcode defineBuilderKind}
 * from a {@linkcode BuildTarget} saying how its message is built and copied.
 *
 * @module
 */

import { loadedYaml } from "./yaml_module.ts";
import { keepPlainSource, PlainScalar } from "./yaml_plain_scalars.ts";
import { BODY_FIELDS, prepareBuilderData } from "./builder_data.ts";
import { type Context, HttpResponse, type Namespace } from "./context.ts";
import type { FilterEnv, FilterInstance, FilterKind, Logger } from "./filter.ts";
import { headerNameProblem, headerValueProblem, toHeaderValue } from "./header_adapt.ts";
import { HeaderFields } from "./header_fields.ts";
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
    const parsed = this.renderYaml(ctx);
    return parsed instanceof Promise ? parsed.then(asMapping) : asMapping(parsed);
  }

  /**
   * Renders the template for `ctx` and parses the output as YAML of any shape,
   * plain numbers and booleans as {@linkcode PlainScalar}s.
   */
  renderYaml(ctx: Context): unknown {
    const data = prepareBuilderData(ctx, { readBodies: this.#readBodies });
    if (data instanceof Promise) return data.then((d) => this.#parse(d));
    return this.#parse(data);
  }

  #parse(data: unknown): unknown {
    return parseRenderedYaml(this.#template.execute(data));
  }
}

function asMapping(parsed: unknown): Record<string, unknown> {
  if (parsed === null || parsed === undefined) return {};
  if (!isPlainObject(parsed)) throw new Error("template output is not a YAML mapping");
  return parsed;
}

/** The rendered YAML as JS values, plain numbers and booleans as {@linkcode PlainScalar}s. */
function parseRenderedYaml(text: string): unknown {
  const yaml = loadedYaml();
  const doc = yaml.parseDocument(text);
  if (doc.errors.length) {
    throw new Error(`template output is not valid YAML: ${doc.errors[0].message}`);
  }
  yaml.visit(doc, keepPlainSource);
  return doc.toJS();
}

/** The text of a scalar of the rendered YAML (null as ""), as Go reads it into a string. */
function scalarText(v: unknown, what: string): string {
  if (typeof v === "string") return v;
  if (v instanceof PlainScalar) return v.source;
  if (v === null || v === undefined) return "";
  throw new Error(`${what} must be a string`);
}

/** Reads a scalar field of the rendered YAML as a string (numbers and booleans as written). */
export function stringField(info: Record<string, unknown>, field: string): string | undefined {
  const v = info[field];
  if (v === undefined || v === null) return undefined;
  return scalarText(v, field);
}

const encoder = new TextEncoder();

/** Reads the rendered `body` as UTF-8 bytes (empty when absent). */
export function bodyField(info: Record<string, unknown>): Uint8Array {
  return encoder.encode(stringField(info, "body") ?? "");
}

/** Reads the rendered `headers` (name to list of values) into a {@linkcode HeaderFields}. */
export function headersField(info: Record<string, unknown>): Headers {
  const headers = new HeaderFields();
  const raw = info.headers;
  if (raw === undefined || raw === null) return headers;
  if (!isPlainObject(raw)) throw new Error("headers must be a map of header name to values");
  for (const [name, values] of Object.entries(raw)) {
    const problem = headerNameProblem(name);
    if (problem) throw new Error(`headers: ${problem}`);
    const list = Array.isArray(values) ? values : values === null ? [] : [values];
    for (const v of list) {
      const text = scalarText(v, `headers.${name}: values`);
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

/**
 * Hands what `render` gives to `use`, at once when it renders synchronously
 * (it waits only for a body still on its way), and anything it throws or
 * rejects with to `fail`.
 */
export function afterRender<T>(
  render: () => T | Promise<T>,
  use: (rendered: T) => string | Promise<string>,
  fail: (error: unknown) => string,
): string | Promise<string> {
  let rendered: T | Promise<T>;
  try {
    rendered = render();
  } catch (e) {
    return fail(e);
  }
  return rendered instanceof Promise ? rendered.then(use, fail) : use(rendered);
}

/** How one builder kind makes its message `M` (a request or a response). */
export interface BuildTarget<M> {
  /** What is built, for log lines: "request" or "response". */
  readonly message: string;
  /** Builds the message the rendered YAML describes; throws when the YAML is wrong. */
  build(info: Record<string, unknown>, ctx: Context): M;
  /** The message of the source namespace, if it has one. */
  source(ns: Namespace): M | undefined;
  /** A copy of `src` sharing its (buffered) body, so both namespaces can send it. */
  copy(src: M): Promise<M>;
  /** Puts the built message into the active namespace. */
  set(ctx: Context, message: M): void;
}

/**
 * A builder filter instance: renders the template and builds the target's
 * message from it, or copies the message of `sourceNamespace`. Any failure
 * goes through {@linkcode failBuild}; `handle` never throws.
 */
class MessageBuilder<M> implements FilterInstance {
  readonly #target: BuildTarget<M>;
  readonly #sourceNamespace: string | undefined;
  readonly #log: Logger;
  readonly #template: BuilderTemplate | undefined;
  readonly #what: string;

  /** Compiles the spec's template (if any) once, for every request. */
  constructor(spec: BuilderSpec, env: FilterEnv, target: BuildTarget<M>) {
    this.#target = target;
    this.#sourceNamespace = spec.sourceNamespace;
    this.#log = env.log;
    this.#template = spec.template === undefined ? undefined : new BuilderTemplate(spec, env.log);
    this.#what = `build ${target.message}`;
  }

  /** Builds the message into the active namespace; returns "" or `buildErr`. */
  handle(ctx: Context): string | Promise<string> {
    const template = this.#template;
    if (!template) return this.#copy(ctx, this.#sourceNamespace!);
    return afterRender(
      () => template.render(ctx),
      (info) => this.#apply(ctx, info),
      (e) => this.#fail(ctx, e),
    );
  }

  #apply(ctx: Context, info: Record<string, unknown>): string {
    try {
      this.#target.set(ctx, this.#target.build(info, ctx));
      return "";
    } catch (e) {
      return this.#fail(ctx, e);
    }
  }

  async #copy(ctx: Context, source: string): Promise<string> {
    const ns = ctx.namespaces().find(([name]) => name === source)?.[1];
    const src = ns && this.#target.source(ns);
    if (!src) return this.#fail(ctx, `namespace ${source} has no ${this.#target.message}`);
    try {
      this.#target.set(ctx, await this.#target.copy(src));
      return "";
    } catch (e) {
      return this.#fail(ctx, e);
    }
  }

  #fail(ctx: Context, error: unknown): string {
    return failBuild(ctx, this.#log, this.#what, error);
  }
}

/** What names a builder kind, and how it makes its message. */
export interface BuilderKindInfo<M> {
  /** The kind's name, e.g. "RequestBuilder". */
  kind: string;
  /** One line for listings. */
  description: string;
  /** How the kind makes its message. */
  target: BuildTarget<M>;
}

/** A builder filter kind: the shared spec and `buildErr` result, building `target`'s message. */
export function defineBuilderKind<M>(info: BuilderKindInfo<M>): FilterKind<BuilderSpec> {
  const { kind, description, target } = info;
  return {
    kind,
    description,
    results: [RESULT_BUILD_ERR],
    validate: readBuilderSpec,
    create: (spec, env) => new MessageBuilder(spec, env, target),
  };
}
