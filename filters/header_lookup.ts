/**
 * The HeaderLookup filter, as Easegress's: the value of request header
 * `headerKey` names a custom data item under `etcdPrefix` (with `-` and the
 * first group of `pathRegExp` in the request's path appended when it is
 * set), and the item's fields named by `headerSetters` become request
 * headers. A request without the header, or naming no item, goes on
 * unchanged. The items are the node's custom data, held in memory and kept
 * current as they change, so a lookup costs no store round trip.
 *
 * @module
 */

import type { Context } from "./context.ts";
import type { CustomDataView } from "./custom_data_view.ts";
import { customDataPrefix } from "./custom_data_users.ts";
import type { FilterEnv, FilterInstance, FilterKind, Logger } from "./filter.ts";
import { headerNameProblem, headerValueText, toHeaderValue } from "./header_adapt.ts";
import { isPlainObject, SpecReader } from "./spec.ts";
import { compileGoRegexp } from "./go_regexp.ts";

/** One item field and the request header it sets. */
export interface HeaderSetterSpec {
  etcdKey: string;
  headerKey: string;
}

/** The HeaderLookup spec, normalized. */
export interface HeaderLookupSpec {
  headerKey: string;
  /** The items' prefix as `<kind>/` (Easegress's key under `/custom-data/`). */
  etcdPrefix: string;
  pathRegExp?: string;
  headerSetters: HeaderSetterSpec[];
}

function header(r: SpecReader, field: string): string {
  const name = r.string(field, { required: true });
  // An empty name is refused too: no request has it, and Headers throw on it.
  const problem = name === undefined ? "" : headerNameProblem(name);
  if (problem) r.problem(field, problem);
  return name ?? "";
}

/** The `etcdPrefix` field; one naming no kind ("", "/") would look every id up nowhere. */
function etcdPrefix(r: SpecReader): string {
  const prefix = r.string("etcdPrefix", { required: true }) ?? "";
  if (customDataPrefix(prefix) === "/") {
    r.problem(
      "etcdPrefix",
      `must name the custom data kind, such as "client-info/", got "${prefix}"`,
    );
  }
  return prefix;
}

function validate(raw: Record<string, unknown>): HeaderLookupSpec {
  const r = SpecReader.root(raw);
  const spec: HeaderLookupSpec = {
    headerKey: header(r, "headerKey"),
    // Easegress adds no separator, so its example's "client-info" looked up
    // "client-infoXYZ": the prefix is taken as a kind, with its "/".
    etcdPrefix: customDataPrefix(etcdPrefix(r)),
    headerSetters: r.array("headerSetters", (sr) => ({
      etcdKey: sr.string("etcdKey", { required: true }) ?? "",
      headerKey: header(sr, "headerKey"),
    }), { required: true, minItems: 1 }) ?? [],
  };
  const pathRegExp = r.regexp("pathRegExp");
  if (pathRegExp) spec.pathRegExp = pathRegExp;
  r.finish();
  r.throwIfProblems();
  return spec;
}

class HeaderLookup implements FilterInstance {
  readonly #spec: HeaderLookupSpec;
  readonly #path: RegExp | undefined;
  readonly #data: CustomDataView | undefined;
  readonly #log: Logger;

  constructor(spec: HeaderLookupSpec, env: FilterEnv) {
    this.#spec = spec;
    this.#path = spec.pathRegExp ? compileGoRegexp(spec.pathRegExp) : undefined;
    this.#data = env.customData;
    this.#log = env.log;
  }

  handle(ctx: Context): string {
    const request = ctx.request;
    const id = request.firstHeader(this.#spec.headerKey); // Go's Header.Get: the first field
    if (!id) return "";
    // Item ids are text; the field holds its UTF-8 bytes as characters.
    let path = this.#spec.etcdPrefix + headerValueText(id);
    if (this.#path !== undefined) {
      // Go's FindStringSubmatch: with a group, a match adds "-" and the
      // group's text, even when that is empty or the group took no part.
      const match = this.#path.exec(request.path);
      if (match && match.length > 1) path += `-${match[1] ?? ""}`;
    }
    const item = this.#data?.get(path);
    if (!isPlainObject(item)) {
      this.#log.debug(`no custom data at ${path}`);
      return "";
    }
    for (const { etcdKey, headerKey } of this.#spec.headerSetters) {
      const value = item[etcdKey];
      // Easegress reads items as string maps: a list or map is no header value.
      if (value === undefined || value === null || typeof value === "object") continue;
      request.headers.set(headerKey, toHeaderValue(String(value)));
    }
    return "";
  }
}

/** The HeaderLookup filter kind. */
export const headerLookupKind: FilterKind<HeaderLookupSpec> = {
  kind: "HeaderLookup",
  description: "HeaderLookup sets request headers from the custom data item a header names.",
  results: [],
  validate,
  create(spec: HeaderLookupSpec, env: FilterEnv): FilterInstance {
    return new HeaderLookup(spec, env);
  },
};
