/**
 * Easegress's StringMatcher: a string is matched when it equals `exact`,
 * starts with `prefix`, matches `regex` (anywhere, as Go's `MatchString`), or
 * is empty while `empty` is true. Several patterns may be set; any one
 * matching is enough.
 *
 * @module
 */

import type { SpecReader } from "./spec.ts";
import { compileGoRegexp } from "./go_regexp.ts";
import { normalizeRulePath } from "./percent_encoding.ts";

/** The spec form of a string matcher, as stored (unset patterns are absent). */
export interface StringMatcherSpec {
  /** Matches a string equal to this. */
  exact?: string;
  /** Matches a string starting with this. */
  prefix?: string;
  /** Matches a string containing a match of this Go regular expression. */
  regex?: string;
  /** Matches the empty string; conflicts with every other pattern. */
  empty?: boolean;
}

/**
 * Reads a string matcher at `r`. Empty strings count as unset, as in
 * Easegress; at least one pattern is required and `empty` stands alone.
 */
export function readStringMatcher(r: SpecReader): StringMatcherSpec {
  const exact = r.string("exact") || undefined;
  const prefix = r.string("prefix") || undefined;
  const regex = r.regexp("regex") || undefined;
  const empty = r.bool("empty", false);
  const spec: StringMatcherSpec = {};
  if (exact !== undefined) spec.exact = exact;
  if (prefix !== undefined) spec.prefix = prefix;
  if (regex !== undefined) spec.regex = regex;
  if (empty) {
    spec.empty = true;
    if (exact !== undefined || prefix !== undefined || regex !== undefined) {
      r.problem("empty", "cannot be combined with exact, prefix or regex");
    }
  } else if (exact === undefined && prefix === undefined && regex === undefined) {
    r.problem("", "needs one of exact, prefix, regex or empty");
  }
  return spec;
}

/** A compiled {@linkcode StringMatcherSpec}. */
export class StringMatcher {
  readonly #exact: string | undefined;
  readonly #prefix: string | undefined;
  readonly #regex: RegExp | undefined;
  readonly #empty: boolean;

  /** Compiles `spec`, which must have been read by {@linkcode readStringMatcher}. */
  constructor(spec: StringMatcherSpec) {
    this.#exact = spec.exact;
    this.#prefix = spec.prefix;
    this.#regex = spec.regex === undefined ? undefined : compileGoRegexp(spec.regex);
    this.#empty = spec.empty === true;
  }

  /**
   * Compiles `spec` to match request paths: `exact` and `prefix` are spelled
   * as the server hands paths over (see percent_encoding.ts), so "/a b" meets
   * "/a%20b" as Easegress, which matches the decoded path, has it. A `regex`
   * stays as written.
   */
  static forPaths(spec: StringMatcherSpec): StringMatcher {
    const spelled = { ...spec };
    if (spec.exact !== undefined) spelled.exact = normalizeRulePath(spec.exact);
    if (spec.prefix !== undefined) spelled.prefix = normalizeRulePath(spec.prefix);
    return new StringMatcher(spelled);
  }

  /**
   * Whether `empty: true` was set. Callers matching a value that may be
   * absent (a header) treat absent as matched only in this case.
   */
  get matchesAbsent(): boolean {
    return this.#empty;
  }

  /** Whether `value` matches any of the patterns. */
  match(value: string): boolean {
    if (this.#empty && value === "") return true;
    if (this.#exact !== undefined && value === this.#exact) return true;
    if (this.#prefix !== undefined && value.startsWith(this.#prefix)) return true;
    return this.#regex !== undefined && this.#regex.test(value);
  }
}
