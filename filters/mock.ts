/**
 * The Mock filter: the first rule whose path and headers match the request
 * builds the response (status, headers, body), optionally after a delay.
 * Requests no rule matches go on untouched.
 *
 * @module
 */

import { type Context, HttpResponse } from "./context.ts";
import { detectContentType } from "./content_sniff.ts";
import { isBodilessStatus } from "./status_text.ts";
import type { FilterInstance, FilterKind } from "./filter.ts";
import {
  headerNameProblem,
  headerValueText,
  readHeaderMap,
  toHeaderValue,
} from "./header_adapt.ts";
import { HeaderFields } from "./header_fields.ts";
import { normalizeRulePath } from "./percent_encoding.ts";
import { parseDuration, SpecReader } from "./spec.ts";
import { readStringMatcher, StringMatcher, type StringMatcherSpec } from "./string_matcher.ts";
import { sleep } from "./sleep.ts";

/** Which requests a rule answers. */
export interface MockMatchSpec {
  /** The exact path. */
  path?: string;
  /** A path prefix, tried when `path` is not equal. */
  pathPrefix?: string;
  /** Header name to matcher; an absent header matches only `empty: true`. */
  headers?: Record<string, StringMatcherSpec>;
  /** Whether every header matcher must match (else any one is enough). */
  matchAllHeaders: boolean;
}

/** One mock rule. */
export interface MockRuleSpec {
  /** Which requests this rule answers. */
  match: MockMatchSpec;
  /** The response status, 100..599. */
  code: number;
  /** Response headers. */
  headers?: Record<string, string>;
  /** The response body. */
  body?: string;
  /** How long to wait before answering (a Go duration). */
  delay?: string;
}

/** The Mock spec, normalized. */
export interface MockSpec {
  /** Tried in order; the first match answers. */
  rules: MockRuleSpec[];
}

/** A rule matched and its response was built. */
export const RESULT_MOCKED = "mocked";

// Empty means unset, as in Easegress.
const STARTS_WITH_SLASH = { pattern: /^(?:\/|$)/, patternName: 'a path starting with "/"' };

function readMatch(r: SpecReader): MockMatchSpec {
  const match: MockMatchSpec = { matchAllHeaders: false };
  const path = r.string("path", STARTS_WITH_SLASH);
  const pathPrefix = r.string("pathPrefix", STARTS_WITH_SLASH);
  const headers = r.map("headers", (hr, name) => {
    const problem = headerNameProblem(name);
    if (problem) hr.problem("", problem);
    return readStringMatcher(hr);
  });
  match.matchAllHeaders = r.bool("matchAllHeaders", false);
  if (path) match.path = path;
  if (pathPrefix) match.pathPrefix = pathPrefix;
  if (headers && Object.keys(headers).length) match.headers = headers;
  return match;
}

function readRule(r: SpecReader): MockRuleSpec {
  const match = r.object("match", readMatch) ?? { matchAllHeaders: false };
  const code = r.int("code", { required: true, min: 100, max: 599 }) ?? 0;
  const rule: MockRuleSpec = { match, code };
  const headers = readHeaderMap(r, "headers");
  if (headers && Object.keys(headers).length) rule.headers = headers;
  const body = r.string("body");
  if (body) rule.body = body;
  const delay = r.string("delay"); // "" means no delay, as in Easegress
  if (delay) {
    const ms = parseDuration(delay);
    if (ms === undefined) {
      r.problem("delay", `must be a duration such as "500ms" or "1m30s", got "${delay}"`);
    } else if (ms < 0) r.problem("delay", `must not be negative, got "${delay}"`);
    rule.delay = delay;
  }
  return rule;
}

function validate(raw: Record<string, unknown>): MockSpec {
  const r = SpecReader.root(raw);
  const rules = r.array("rules", readRule, { required: true, minItems: 1 }) ?? [];
  r.finish();
  r.throwIfProblems();
  return { rules };
}

const encoder = new TextEncoder();

/** One header rule: its name, matcher and the matcher's test as a function, made once. */
interface HeaderRule {
  readonly name: string;
  readonly matcher: StringMatcher;
  readonly test: (value: string) => boolean;
}

/**
 * Whether the request's `name` fields satisfy `rule`, as Easegress decides:
 * `empty` means the header is absent, else any one field must match. Web
 * Headers join repeated fields with ", ", so there the joined value or any
 * part of it may match.
 */
function matchHeader(rule: HeaderRule, headers: Headers): boolean {
  const { name, matcher } = rule;
  if (!headers.has(name)) return matcher.matchesAbsent;
  if (matcher.matchesAbsent) return false;
  if (headers instanceof HeaderFields) return headers.someField(name, rule.test);
  const value = headers.get(name)!;
  if (rule.test(value)) return true;
  if (!value.includes(", ")) return false;
  return value.split(", ").some(rule.test);
}

/** A rule compiled: matchers built, response headers and body encoded once. */
class CompiledRule {
  readonly #path: string | undefined;
  readonly #pathPrefix: string | undefined;
  readonly #headers: readonly HeaderRule[];
  readonly #matchAll: boolean;
  readonly #code: number;
  // Shared by every response this rule builds. HttpResponse copies borrowed
  // Headers before the first change, and bodies are replaced, never written into.
  readonly #responseHeaders: HeaderFields;
  readonly #body: Uint8Array | null;
  readonly delayMs: number;

  constructor(spec: MockRuleSpec) {
    // Requests come with their paths escaped in one spelling (see percent_encoding.ts), and
    // Easegress matches the decoded path: written the same way, "/a b" meets "/a%20b".
    const { path, pathPrefix } = spec.match;
    this.#path = path === undefined ? undefined : normalizeRulePath(path);
    this.#pathPrefix = pathPrefix === undefined ? undefined : normalizeRulePath(pathPrefix);
    this.#headers = Object.entries(spec.match.headers ?? {}).map(([name, m]) => {
      const matcher = new StringMatcher(m);
      // Go matches the UTF-8 bytes; the spec's patterns are text.
      return { name, matcher, test: (value: string) => matcher.match(headerValueText(value)) };
    });
    this.#matchAll = spec.match.matchAllHeaders;
    this.#code = spec.code;
    this.#responseHeaders = new HeaderFields();
    for (const [name, value] of Object.entries(spec.headers ?? {})) {
      this.#responseHeaders.set(name, toHeaderValue(value));
    }
    const bodiless = isBodilessStatus(spec.code);
    this.#body = spec.body && !bodiless ? encoder.encode(spec.body) : null;
    if (!bodiless) this.#responseHeaders.set("content-length", String(this.#body?.byteLength ?? 0));
    // The type Go's server would sniff from this fixed body on every answer, found once.
    if (this.#body !== null && !this.#responseHeaders.has("content-type")) {
      this.#responseHeaders.set("content-type", detectContentType(this.#body));
    }
    this.delayMs = spec.delay ? parseDuration(spec.delay) ?? 0 : 0;
  }

  #matchPath(path: string): boolean {
    if (this.#path === undefined && this.#pathPrefix === undefined) return true;
    if (path === this.#path) return true;
    return this.#pathPrefix !== undefined && path.startsWith(this.#pathPrefix);
  }

  #matchHeaders(headers: Headers): boolean {
    if (!this.#headers.length) return true;
    for (const rule of this.#headers) {
      const ok = matchHeader(rule, headers);
      if (ok !== this.#matchAll) return ok;
    }
    return this.#matchAll;
  }

  /** Whether this rule answers a request with `path` and `headers`. */
  matches(path: string, headers: Headers): boolean {
    return this.#matchPath(path) && this.#matchHeaders(headers);
  }

  /** A new response for one request. */
  respond(): HttpResponse {
    return new HttpResponse(this.#code, this.#responseHeaders, this.#body);
  }
}

async function delayed(ms: number, signal: AbortSignal): Promise<string> {
  await sleep(ms, signal);
  return RESULT_MOCKED;
}

class Mock implements FilterInstance {
  readonly #rules: readonly CompiledRule[];

  constructor(spec: MockSpec) {
    this.#rules = spec.rules.map((rule) => new CompiledRule(rule));
  }

  handle(ctx: Context): string | Promise<string> {
    const req = ctx.request;
    const path = req.path;
    const headers = req.rawHeaders;
    for (const rule of this.#rules) {
      if (!rule.matches(path, headers)) continue;
      ctx.response = rule.respond();
      return rule.delayMs > 0 ? delayed(rule.delayMs, ctx.signal) : RESULT_MOCKED;
    }
    return "";
  }
}

/** The Mock filter kind. */
export const mockKind: FilterKind<MockSpec> = {
  kind: "Mock",
  description: "Mock answers matching requests with a configured response.",
  results: [RESULT_MOCKED],
  validate,
  create(spec: MockSpec): FilterInstance {
    return new Mock(spec);
  },
};
