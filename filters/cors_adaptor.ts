/**
 * The CORSAdaptor filter, as Easegress's (which follows rs/cors 1.8):
 * answers CORS preflight requests itself (`preflighted`), with the
 * Access-Control-Allow-* fields when the origin, method and headers asked
 * for are allowed, and none when they are not.
 *
 * Actual (non-preflight) requests: where a response already exists (the
 * filter placed after a Proxy, or in a GlobalFilter's afterPipeline) it
 * gets Access-Control-Allow-Origin and the rest; where none exists,
 * `supportCORSRequest` makes an empty 200 carrying them, as Easegress does,
 * whose fields a Proxy after it keeps on its answer, and otherwise the
 * request goes on untouched. Easegress replaced an existing response with
 * that empty 200 instead.
 *
 * @module
 */

import { type Context, HttpResponse } from "./context.ts";
import type { FilterInstance, FilterKind } from "./filter.ts";
import { headerNameProblem } from "./header_adapt.ts";
import { canonicalHeaderKey } from "./header_fields.ts";
import { SpecReader } from "./spec.ts";

/** The CORSAdaptor spec, normalized. */
export interface CORSAdaptorSpec {
  /** Origins allowed, each with at most one `*`; empty allows every origin. */
  allowedOrigins: string[];
  /** Methods allowed; empty means GET, POST and HEAD. */
  allowedMethods: string[];
  /** Request headers allowed (`*` for any); empty means the library's default four. */
  allowedHeaders: string[];
  allowCredentials: boolean;
  /** Response headers the browser may show the page. */
  exposedHeaders: string[];
  /** Seconds a preflight answer may be cached; 0 leaves it to the browser. */
  maxAge: number;
  /** Answer actual requests that have no response yet with an empty 200 carrying the CORS fields. */
  supportCORSRequest: boolean;
}

/** A preflight request was answered. */
export const RESULT_PREFLIGHTED = "preflighted";

const DEFAULT_METHODS = ["GET", "POST", "HEAD"];
const DEFAULT_HEADERS = ["Origin", "Accept", "Content-Type", "X-Requested-With"];

function validate(raw: Record<string, unknown>): CORSAdaptorSpec {
  const r = SpecReader.root(raw);
  const spec: CORSAdaptorSpec = {
    allowedOrigins: r.stringArray("allowedOrigins") ?? [],
    allowedMethods: r.stringArray("allowedMethods") ?? [],
    allowedHeaders: r.stringArray("allowedHeaders") ?? [],
    allowCredentials: r.bool("allowCredentials", false),
    exposedHeaders: r.stringArray("exposedHeaders") ?? [],
    maxAge: r.int("maxAge", { default: 0, min: 0 }) ?? 0,
    supportCORSRequest: r.bool("supportCORSRequest", false),
  };
  spec.allowedOrigins.forEach((origin, i) => {
    if (origin.split("*").length > 2) {
      r.problem(`allowedOrigins[${i}]`, `may hold one "*" at most, got "${origin}"`);
    }
  });
  for (const field of ["allowedHeaders", "exposedHeaders"] as const) {
    spec[field].forEach((name, i) => {
      const problem = name === "*" && field === "allowedHeaders" ? "" : headerNameProblem(name);
      if (problem) r.problem(`${field}[${i}]`, problem);
    });
  }
  r.finish();
  r.throwIfProblems();
  return spec;
}

/**
 * The names in an Access-Control-Request-Headers value, as rs/cors 1.8's
 * `parseHeaderList` reads them: split at commas and spaces, characters other
 * than letters, digits, "-", "_" and "." dropped, letters in canonical case.
 */
export function parseHeaderList(list: string): string[] {
  const headers: string[] = [];
  let name = "";
  let upper = true;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c >= "a" && c <= "z") name += upper ? c.toUpperCase() : c;
    else if (c >= "A" && c <= "Z") name += upper ? c : c.toLowerCase();
    else if (c === "-" || c === "_" || c === "." || (c >= "0" && c <= "9")) name += c;
    if (c === " " || c === "," || i === list.length - 1) {
      if (name) headers.push(name);
      name = "";
      upper = true;
    } else upper = c === "-";
  }
  return headers;
}

/** An allowed origin: exact, or a prefix and suffix around one `*`. */
type OriginRule = string | readonly [prefix: string, suffix: string];

class CORSAdaptor implements FilterInstance {
  readonly #anyOrigin: boolean;
  readonly #origins: readonly OriginRule[];
  readonly #methods: ReadonlySet<string>;
  readonly #anyHeader: boolean;
  /** Lower-case names of the allowed request headers. */
  readonly #headers: ReadonlySet<string>;
  readonly #exposed: string;
  readonly #credentials: boolean;
  readonly #maxAge: string;
  readonly #supportRequests: boolean;

  constructor(spec: CORSAdaptorSpec) {
    const origins = spec.allowedOrigins.map((o) => o.toLowerCase());
    this.#anyOrigin = origins.length === 0 || origins.includes("*");
    this.#origins = origins.map((o) => {
      const star = o.indexOf("*");
      return star < 0 ? o : [o.slice(0, star), o.slice(star + 1)] as const;
    });
    const methods = spec.allowedMethods.length ? spec.allowedMethods : DEFAULT_METHODS;
    this.#methods = new Set(methods.map((m) => m.toUpperCase()));
    const headers = spec.allowedHeaders.length ? spec.allowedHeaders : DEFAULT_HEADERS;
    this.#anyHeader = headers.includes("*");
    this.#headers = new Set([...headers, "Origin"].map((h) => h.toLowerCase()));
    this.#exposed = spec.exposedHeaders.map(canonicalHeaderKey).join(", ");
    this.#credentials = spec.allowCredentials;
    this.#maxAge = spec.maxAge > 0 ? String(spec.maxAge) : "";
    this.#supportRequests = spec.supportCORSRequest;
  }

  handle(ctx: Context): string {
    const request = ctx.request;
    const origin = request.header("origin");
    const asked = request.header("access-control-request-method");
    // As Easegress: an empty Access-Control-Request-Method makes no preflight.
    if (request.method === "OPTIONS" && asked) {
      const response = new HttpResponse(200);
      response.body = null;
      this.#preflight(
        response.headers,
        origin,
        asked,
        request.header("access-control-request-headers"),
      );
      response.headers.set("content-length", "0");
      ctx.response = response;
      return RESULT_PREFLIGHTED;
    }
    let response = ctx.response;
    if (response === undefined) {
      if (!this.#supportRequests) return "";
      response = ctx.response = new HttpResponse(200);
      response.headers.set("content-length", "0");
    }
    this.#actual(response.headers, origin, request.method);
    return "";
  }

  #preflight(out: Headers, origin: string | null, method: string, asked: string | null): void {
    out.append("vary", "Origin");
    out.append("vary", "Access-Control-Request-Method");
    out.append("vary", "Access-Control-Request-Headers");
    if (origin === null || origin === "" || !this.#originAllowed(origin)) return;
    if (!this.#methodAllowed(method)) return;
    const headers = parseHeaderList(asked ?? "");
    if (!this.#anyHeader && !headers.every((h) => this.#headers.has(h.toLowerCase()))) return;
    out.set("access-control-allow-origin", this.#anyOrigin ? "*" : origin);
    out.set("access-control-allow-methods", method.toUpperCase());
    if (headers.length) out.set("access-control-allow-headers", headers.join(", "));
    if (this.#credentials) out.set("access-control-allow-credentials", "true");
    if (this.#maxAge) out.set("access-control-max-age", this.#maxAge);
  }

  #actual(out: Headers, origin: string | null, method: string): void {
    out.append("vary", "Origin");
    if (origin === null || origin === "" || !this.#originAllowed(origin)) return;
    if (!this.#methodAllowed(method)) return;
    out.set("access-control-allow-origin", this.#anyOrigin ? "*" : origin);
    if (this.#exposed) out.set("access-control-expose-headers", this.#exposed);
    if (this.#credentials) out.set("access-control-allow-credentials", "true");
  }

  #originAllowed(origin: string): boolean {
    if (this.#anyOrigin) return true;
    const lower = origin.toLowerCase();
    for (const rule of this.#origins) {
      if (typeof rule === "string") {
        if (rule === lower) return true;
      } else if (
        lower.length >= rule[0].length + rule[1].length && lower.startsWith(rule[0]) &&
        lower.endsWith(rule[1])
      ) return true;
    }
    return false;
  }

  #methodAllowed(method: string): boolean {
    const upper = method.toUpperCase();
    return upper === "OPTIONS" || this.#methods.has(upper);
  }
}

/** The CORSAdaptor filter kind. */
export const corsAdaptorKind: FilterKind<CORSAdaptorSpec> = {
  kind: "CORSAdaptor",
  description: "CORSAdaptor answers CORS preflight requests and adds CORS fields to responses.",
  results: [RESULT_PREFLIGHTED],
  validate,
  create(spec: CORSAdaptorSpec): FilterInstance {
    return new CORSAdaptor(spec);
  },
};
