/**
 * Easegress's path adaptor: `replace`, `addPrefix`, `trimPrefix` or
 * `regexpReplace`; the first one set wins, in that order.
 *
 * @module
 */

import { GoRegexpReplacer } from "./go_regexp_replace.ts";
import { normalizeRulePath } from "./percent_encoding.ts";
import type { SpecReader } from "./spec.ts";

/** How to rewrite a request path. */
export interface PathAdaptSpec {
  /** Replaces the whole path. */
  replace?: string;
  /** Put in front of the path. */
  addPrefix?: string;
  /** Removed from the start of the path when it is there. */
  trimPrefix?: string;
  /** Replaces every match of `regexp` with `replace` (Go syntax: `$1`, `${name}`). */
  regexpReplace?: { regexp: string; replace: string };
}

// Empty means unset, as in Easegress.
const STARTS_WITH_SLASH = /^(?:\/|$)/;

/** Reads a path adaptor spec at `r`; empty strings count as unset. */
export function readPathAdaptSpec(r: SpecReader): PathAdaptSpec {
  const slash = { pattern: STARTS_WITH_SLASH, patternName: 'a path starting with "/"' };
  const spec: PathAdaptSpec = {};
  const replace = r.string("replace", slash);
  const addPrefix = r.string("addPrefix", slash);
  const trimPrefix = r.string("trimPrefix", slash);
  const regexpReplace = r.object("regexpReplace", (rr) => ({
    regexp: rr.regexp("regexp", { required: true }) ?? "",
    replace: rr.string("replace", { default: "" }),
  }));
  if (replace) spec.replace = replace;
  if (addPrefix) spec.addPrefix = addPrefix;
  if (trimPrefix) spec.trimPrefix = trimPrefix;
  if (regexpReplace) spec.regexpReplace = regexpReplace;
  return spec;
}

/**
 * A spec's path as the server spells request paths (see percent_encoding.ts):
 * Go adapts the decoded path, so `trimPrefix: /café` must meet the
 * `/caf%C3%A9` a request comes with, and what `replace`, `addPrefix` and
 * `regexpReplace.replace`'s text put in stays in the one spelling later
 * filters match. "?" and "#" are escaped with the rest: they stay part of
 * the path, as Go's URL.Path sends them, instead of starting a second query
 * or putting a fragment on the request line.
 */
function spelled(path: string | undefined): string | undefined {
  return path === undefined ? undefined : normalizeRulePath(path);
}

/** A prepared {@linkcode PathAdaptSpec}. */
export class PathAdaptor {
  readonly #adapt: (path: string) => string;

  /** Prepares `spec` (read by {@linkcode readPathAdaptSpec}); compiles its regexp once. */
  constructor(spec: PathAdaptSpec) {
    const { regexpReplace } = spec;
    const replace = spelled(spec.replace);
    const addPrefix = spelled(spec.addPrefix);
    const trimPrefix = spelled(spec.trimPrefix);
    if (replace) this.#adapt = () => replace;
    else if (addPrefix) this.#adapt = (path) => addPrefix + path;
    else if (trimPrefix) {
      this.#adapt = (path) => path.startsWith(trimPrefix) ? path.slice(trimPrefix.length) : path;
    } else if (regexpReplace) {
      // Its text, not its $1 or ${name}: a group brings the request's own spelling.
      const replacer = new GoRegexpReplacer(
        regexpReplace.regexp,
        regexpReplace.replace,
        normalizeRulePath,
      );
      this.#adapt = (path) => replacer.replaceAll(path);
    } else this.#adapt = (path) => path;
  }

  /**
   * The adapted form of `path`. The result always starts with "/": a path a
   * trim or regexp left relative ("x", "") would not be a valid request target.
   */
  adapt(path: string): string {
    const adapted = this.#adapt(path);
    return adapted.startsWith("/") ? adapted : `/${adapted}`;
  }
}
